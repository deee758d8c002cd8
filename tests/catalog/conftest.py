"""Servers for the remote catalog backends: SeaweedFS's Iceberg REST catalog, and Glue and S3
on the session's moto server (`moto_server`). Each test gets an empty catalog of its own."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from c360.settings import CatalogSettings, S3Settings, Settings
from tests.conftest import (
    S3_ACCESS_KEY_ID,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    S3Server,
    start_weed_mini,
)

# The checks every backend runs live outside the test modules: let pytest explain their failures.
pytest.register_assert_rewrite("tests.catalog.backend_checks")

# SeaweedFS (like AWS S3 Tables) checks SigV4 signatures on its Iceberg REST catalog; signed
# as `s3`, it wants a payload hash header that pyiceberg's signer does not send.
REST_SIGV4_SERVICE = "s3tables"
GLUE_BUCKET = "c360-glue"


@dataclass(frozen=True)
class IcebergRestServer:
    """A running Iceberg REST catalog and the S3 server holding its table buckets."""

    uri: str
    s3: S3Settings

    def new_table_bucket(self) -> str:
        """Create an empty table bucket: on SeaweedFS, each one is a catalog of its own."""
        name = f"c360-{uuid.uuid4().hex[:12]}"
        self.s3tables_client().create_table_bucket(name=name)
        return name

    def s3tables_client(self) -> Any:  # boto3-stubs is installed for s3 only
        return boto3.client(
            "s3tables",
            endpoint_url=self.s3.endpoint,
            aws_access_key_id=self.s3.access_key_id,
            aws_secret_access_key=self.s3.secret_access_key,
            region_name=self.s3.region,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        )


@pytest.fixture(scope="session")
def iceberg_rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IcebergRestServer]:
    """A second SeaweedFS `weed mini`, with its Iceberg REST catalog on, for the session.

    The shared `s3_server` switches the catalog off, so this one runs beside it.
    """
    weed = start_weed_mini(tmp_path_factory.mktemp("seaweedfs-iceberg"), iceberg_catalog=True)
    server = IcebergRestServer(
        uri=weed.url("s3.port.iceberg"),
        s3=S3Settings(
            endpoint=weed.url("s3.port"),
            access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
            region=S3_REGION,
        ),
    )

    def answers() -> None:
        server.s3tables_client().list_table_buckets()
        urllib.request.urlopen(f"{server.uri}/v1/config", timeout=2).close()

    try:
        # Table buckets live in the filer, which comes up last: ask until it answers.
        weed.wait_until_ready(answers, f"Iceberg REST catalog at {server.uri}")
        yield server
    finally:
        weed.stop()


@pytest.fixture
def rest_catalog_settings(iceberg_rest_server: IcebergRestServer) -> CatalogSettings:
    """Settings for an empty REST catalog: a new table bucket on the SeaweedFS server."""
    bucket = iceberg_rest_server.new_table_bucket()
    return CatalogSettings(
        type="rest",
        uri=iceberg_rest_server.uri,
        warehouse=f"s3://{bucket}",
        sigv4_service=REST_SIGV4_SERVICE,
        s3=iceberg_rest_server.s3,
    )


@pytest.fixture
def glue_catalog_settings(moto_server: str) -> CatalogSettings:
    """Settings for an empty Glue catalog with an S3 warehouse, both on moto."""
    # Glue databases are the zones, named the same in every test: start from a blank moto.
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    s3 = S3Settings(
        endpoint=moto_server,
        access_key_id=S3_ACCESS_KEY_ID,
        secret_access_key=S3_SECRET_ACCESS_KEY,
        region=S3_REGION,
    )
    boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        region_name=s3.region,
    ).create_bucket(Bucket=GLUE_BUCKET)
    return CatalogSettings(
        type="glue", uri=moto_server, warehouse=f"s3://{GLUE_BUCKET}/warehouse", s3=s3
    )


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("sqlite+s3", marks=pytest.mark.integration),
    ]
)
def backend_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    """Settings for one catalog backend, each starting empty."""
    if request.param == "postgresql":
        return make_settings(catalog=CatalogSettings(uri=request.getfixturevalue("postgres_url")))
    if request.param == "sqlite+s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        warehouse = f"{s3.unique_prefix()}/wh"
        return make_settings(catalog=CatalogSettings(warehouse=warehouse, s3=s3.s3_settings()))
    return make_settings()
