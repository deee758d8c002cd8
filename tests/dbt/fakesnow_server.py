"""The fakesnow server (a Snowflake emulator on DuckDB) as a test fixture: started from its
own locked environment (tools/fakesnow) on a free 127.0.0.1 port, stopped by PID.

fakesnow pins duckdb 2.x and c360 pins 1.5.5, so it cannot share c360's environment; it is
a separate server process anyway, reached through the real Snowflake connector.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from snowflake.connector import SnowflakeConnection

from c360.settings import REPO_ROOT, SnowflakeSettings
from catalog import snowflake_load

LOCALHOST = "127.0.0.1"
SERVER_PROJECT = REPO_ROOT / "tools" / "fakesnow"
# The first start on a fresh machine installs the server's environment (~20 s).
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 20
ACCOUNT = "fakesnow"
USER = "c360"
PASSWORD = "fakesnow"  # fakesnow accepts any; the connector refuses an empty one


@dataclass(frozen=True)
class FakesnowServer:
    """A running fakesnow server: its port, its log, its process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def connect(self, database: str) -> SnowflakeConnection:
        """A connection to this server as c360 opens one (bounded timeouts), `database`
        current (created on first use)."""
        return snowflake_load.connect(self.snowflake_settings(database))

    def snowflake_settings(self, database: str) -> SnowflakeSettings:
        """c360's Snowflake settings pointing the prod target at this server."""
        return SnowflakeSettings(
            account=ACCOUNT,
            user=USER,
            password=PASSWORD,
            database=database,
            host=LOCALHOST,
            port=self.port,
            protocol="http",
        )

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Stop this server (its own process, by PID), killing it if it will not go."""
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)


def _uv() -> str:
    bootstrapped = REPO_ROOT / ".tools" / "bin" / "uv"
    found = str(bootstrapped) if bootstrapped.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("no uv to start the fakesnow server with: run ./dev once (it installs uv)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def start_fakesnow(log_dir: Path) -> FakesnowServer:
    """Start the fakesnow server on a free 127.0.0.1 port and wait until it accepts
    connections; fail the test with its log if it exits or does not come up in time."""
    port = _free_port()
    command = [
        _uv(),
        "run",
        "--frozen",
        "--quiet",
        "--project",
        str(SERVER_PROJECT),
        "python",
        str(SERVER_PROJECT / "serve.py"),
        "--server",
        "--port",
        str(port),
        "--host",
        LOCALHOST,
    ]
    log = log_dir / "fakesnow.log"
    with log.open("wb") as out:
        # uv forwards SIGTERM to the server it runs, so stopping uv's PID stops the server.
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = FakesnowServer(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"fakesnow exited with {process.returncode}:\n{server.log_tail()}")
        try:
            socket.create_connection((LOCALHOST, port), timeout=1).close()
            return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"fakesnow not listening in {START_TIMEOUT_S} s:\n{server.log_tail()}")
        time.sleep(0.2)


@contextmanager
def running_fakesnow(log_dir: Path) -> Iterator[FakesnowServer]:
    """A fakesnow server for the block, stopped after it."""
    server = start_fakesnow(log_dir)
    try:
        yield server
    finally:
        server.stop()
