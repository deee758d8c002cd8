"""Servers for the remote catalog backends: SeaweedFS's Iceberg REST catalog, and moto's
Glue and S3 emulation. Each test gets an empty catalog of its own."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from c360.settings import CatalogSettings, S3Settings
from tests.conftest import (
    LOCALHOST,
    S3_ACCESS_KEY_ID,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    S3_START_TIMEOUT_S,
    _free_port,
    _weed_binary,
)

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
    data_dir = tmp_path_factory.mktemp("seaweedfs-iceberg")
    # Every listener gets a free port; the services the tests do not use are switched off.
    ports = {
        name: _free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "s3.port.iceberg",
            "admin.port",
            "admin.port.grpc",
        )
    }
    command = [
        str(_weed_binary()),
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOCALHOST}",
        f"-ip.bind={LOCALHOST}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
    }
    log_path = data_dir / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT
        )
    server = IcebergRestServer(
        uri=f"http://{LOCALHOST}:{ports['s3.port.iceberg']}",
        s3=S3Settings(
            endpoint=f"http://{LOCALHOST}:{ports['s3.port']}",
            access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
            region=S3_REGION,
        ),
    )
    try:
        _wait_until_ready(server, process, log_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_ready(
    server: IcebergRestServer, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + S3_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"weed mini exited with {process.returncode}:\n{tail}")
        try:
            # Table buckets live in the filer, which comes up last: ask until it answers.
            server.s3tables_client().list_table_buckets()
            urllib.request.urlopen(f"{server.uri}/v1/config", timeout=2).close()
            return
        except (BotoCoreError, ClientError, OSError) as exc:
            error: Exception = exc
        if time.monotonic() > deadline:
            pytest.fail(
                f"Iceberg REST catalog at {server.uri} not ready in {S3_START_TIMEOUT_S} s: {error}"
            )
        time.sleep(0.2)


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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's AWS emulator (Glue, S3) in a thread on a free 127.0.0.1 port; its endpoint."""
    # Imported here: importing moto hooks a stubber into every botocore client made after.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOCALHOST, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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
