#!/bin/sh
# LocalStack ready hook: the clickstream stream the stack profile reads (its name and shard
# count are PROFILES[stack] in c360/settings.py). The buckets live on MinIO, not here.
set -eu
awslocal kinesis describe-stream-summary --stream-name c360-clickstream >/dev/null 2>&1 \
    || awslocal kinesis create-stream --stream-name c360-clickstream --shard-count 2
awslocal kinesis wait stream-exists --stream-name c360-clickstream
