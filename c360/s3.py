"""S3 clients for AWS and S3-compatible servers (MinIO, SeaweedFS), from c360's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from c360.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_client(s3: S3Settings) -> S3Client:
    """A client for `s3`'s endpoint (AWS when unset), with its keys and region."""
    # Imported here: boto3 takes most of a second, which a Lambda cold start would pay.
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        region_name=s3.region,
        # S3-compatible servers (MinIO, SeaweedFS) serve buckets by path, not by host name.
        config=Config(
            s3={"addressing_style": "path"} if s3.endpoint else {},
            connect_timeout=5,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
