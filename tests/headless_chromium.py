"""Debian's Chromium, headless, for the tests that check a page draws: found on PATH, or
the test is skipped (failed in CI, where `just test` installs it through `just browser`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TIMEOUT_S = 120
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """The `chromium` executable; skip without it, except in CI."""
    found = shutil.which("chromium")
    if found:
        return found
    reason = "no `chromium` on PATH: `just browser` installs Debian's"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def browse(page: str, profile: Path, *action: str, window: str, budget_ms: int) -> str:
    """Open `page` with a fresh `profile` in a `window` (`W,H`), give its scripts
    `budget_ms` of virtual time, then do `action` (e.g. `--dump-dom`); its stdout."""
    result = subprocess.run(
        [
            chromium(),
            *FLAGS,
            f"--window-size={window}",
            f"--virtual-time-budget={budget_ms}",
            f"--user-data-dir={profile}",
            *action,
            page,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
