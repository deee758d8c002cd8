"""`c360 serve`: the API on 127.0.0.1 from the settings' serving copy, as a user starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.serving_copy import serving_path
from tests.api.conftest import ApiLakehouse
from tests.prefect_server import free_port

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 60
CLI_MAIN = "from c360.cli import main; main()"


def test_c360_serve_answers_on_the_port_it_is_given(api_lakehouse: ApiLakehouse) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "PREFECT_"))}
    env |= {"C360_HOME": str(api_lakehouse.home), "C360_API__KEY": "k"}
    script = Path(sys.executable).with_name("c360")
    command = [str(script)] if script.exists() else [sys.executable, "-c", CLI_MAIN]
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        cwd=api_lakehouse.home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                health = httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "c360 serve did not answer"
                time.sleep(0.2)
        assert health.status_code == 200
        assert serving_path(api_lakehouse.settings).exists()
        assert httpx.get(f"{url}/customers/1").status_code == 401
        assert httpx.get(f"{url}/customers/1", headers={"X-API-Key": "k"}).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert f"customer API on {url} (X-API-Key required)" in output
