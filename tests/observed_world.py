"""One `tiny` lakehouse with two simulated days (`c360 run --scale tiny --days 1`: the runs
of day 0 and day 1), made once per test session and shared by the tests that read a
lakehouse's history: the pipeline report and the notebooks.

Each test module declares a session fixture calling `observed_world`; the world is kept
here by the session's base temporary folder, so it is built once whichever module asks
first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from c360.settings import load_settings
from tests.pipeline_checks import Lakehouse, c360, ran

DAYS = 1
_WORLDS: dict[Path, Lakehouse] = {}


def observed_world(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> Lakehouse:
    """The session's two-day `tiny` lakehouse, its runs reported to `prefect_api_url`."""
    base = tmp_path_factory.getbasetemp()
    if base not in _WORLDS:
        home = tmp_path_factory.mktemp("observed")
        env = {"C360_PREFECT_API_URL": prefect_api_url}
        result = c360(home, "run", "--scale", "tiny", "--days", str(DAYS), env=env)
        ran(result)
        with pytest.MonkeyPatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("C360_")]:
                patch.delenv(name)
            patch.chdir(home)
            settings = load_settings(home=home, scale="tiny")
        _WORLDS[base] = Lakehouse(home, settings, result.stdout, env)
    return _WORLDS[base]
