#!/bin/sh
# LocalStack ready hook: the clickstream stream and the landing bucket the stack profile uses.
set -eu
awslocal kinesis create-stream --stream-name c360-clickstream --shard-count 2 || true
awslocal s3 mb s3://c360-landing || true
