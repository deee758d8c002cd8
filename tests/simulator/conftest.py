"""Servers the simulator's emitters are tested against: a Kinesis endpoint on moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

LOCALHOST = "127.0.0.1"


@pytest.fixture(scope="session")
def kinesis_endpoint() -> Iterator[str]:
    """moto's AWS emulator in a thread on a free 127.0.0.1 port: its Kinesis endpoint."""
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
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placeholder AWS credentials and region, so boto3 never looks further (or at AWS)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "c360-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "c360-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
