"""A real Prefect server for tests: `c360 ui` on a free 127.0.0.1 port, in its own home.

`tests/conftest.py` registers the session's server as the `prefect_server` fixture; a test
that needs a differently configured one (another database) starts its own with
`running_prefect_server`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
import pytest

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

LOCALHOST = "127.0.0.1"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
CLI_MAIN = "from c360.cli import main; main()"


@dataclass(frozen=True)
class PrefectServer:
    """A running Prefect server: its addresses, its home and its log."""

    ui_url: str
    home: Path
    log: Path

    @property
    def api_url(self) -> str:
        """What `C360_PREFECT_API_URL` (or `PREFECT_API_URL`) is set to, to run against it."""
        return f"{self.ui_url}/api"

    def client(self) -> SyncPrefectClient:
        """A client of this server's API, for a `with` block."""
        # Imported here: Prefect's client takes seconds to import, and conftest imports this.
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)

    def flow_run_page(self, flow_run_id: UUID) -> str:
        """The UI's page for one flow run."""
        return f"{self.ui_url}/runs/flow-run/{flow_run_id}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def _wait_until_healthy(process: subprocess.Popen[bytes], server: PrefectServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`c360 ui` exited with {process.returncode}:\n{_log_tail(server.log)}")
        try:
            response = httpx.get(f"{server.api_url}/health", timeout=2)
            if response.status_code == 200 and response.json() is True:
                return
            error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = repr(exc)
        time.sleep(0.25)
    pytest.fail(
        f"Prefect server at {server.api_url} not healthy in {START_TIMEOUT_S} s ({error}):\n"
        f"{_log_tail(server.log)}"
    )


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the leader, so only live members keep the group
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (`c360 ui` and the `prefect` process it started) by
    its leader's PID: SIGTERM, then SIGKILL for whatever is left after the grace time."""
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, stop_signal)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _group_alive(process):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            break
    process.wait(timeout=10)


@contextmanager
def running_prefect_server(
    home: Path, env: Mapping[str, str] | None = None
) -> Iterator[PrefectServer]:
    """Run `c360 ui` with `home` as `C360_HOME` on a free port until the block ends.

    Args:
        home: the server's C360_HOME: its SQLite database and log go there.
        env: extra variables, e.g. `C360_PREFECT_DATABASE_URL`; the shell's `C360_*` and
            `PREFECT_*` ones are left out.
    """
    script = Path(sys.executable).with_name("c360")
    command = [str(script)] if script.exists() else [sys.executable, "-c", CLI_MAIN]
    port = free_port()
    server = PrefectServer(f"http://{LOCALHOST}:{port}", home, home / "prefect-server.log")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "PREFECT_"))}
    clean |= {"C360_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **(env or {})}
    with server.log.open("wb") as log:
        # A session of its own: the whole group is stopped at the end, by its leader's PID.
        process = subprocess.Popen(
            [*command, "ui", "--port", str(port)],
            cwd=home,
            env=clean,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_healthy(process, server)
        yield server
    finally:
        _stop(process)
