"""One `tiny` lakehouse with two simulated days (`c360 run --scale tiny --days 1`: the runs
of day 0 and day 1), made once per test session and shared by the tests that read a
lakehouse's history: the pipeline report and the notebooks.

Each test module declares a session fixture calling `observed_world`; the world is kept
here by the session's base temporary folder, so it is built once whichever module asks
first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline_checks import Lakehouse, run_tiny

DAYS = 1
_WORLDS: dict[Path, Lakehouse] = {}


def observed_world(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> Lakehouse:
    """The session's two-day `tiny` lakehouse, its runs reported to `prefect_api_url`."""
    base = tmp_path_factory.getbasetemp()
    if base not in _WORLDS:
        home = tmp_path_factory.mktemp("observed")
        env = {"C360_PREFECT_API_URL": prefect_api_url}
        _WORLDS[base] = run_tiny(home, "--days", str(DAYS), env=env)
    return _WORLDS[base]
