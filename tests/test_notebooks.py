"""The notebooks in notebooks/ run clean, top to bottom, against a two-day `tiny` lakehouse
read through its documented settings (`C360_HOME`), and show what the lakehouse holds.

Each notebook runs headless as marimo runs a notebook script (`app.run()`): a cell that
raises fails the test. The values its cells defined are then checked against the tables.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import polars as pl
import pytest

from c360.settings import REPO_ROOT
from tests.observed_world import DAYS, observed_world
from tests.pipeline_checks import Lakehouse
from tests.prefect_server import PrefectServer

pytestmark = pytest.mark.slow

NOTEBOOKS = REPO_ROOT / "notebooks"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer) -> Lakehouse:
    return observed_world(tmp_path_factory, prefect_server.api_url)


def run_notebook(name: str, world: Lakehouse, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Run notebooks/`name`.py on `world` as `just notebook` would open it; its definitions."""
    monkeypatch.setenv("C360_HOME", str(world.home))
    monkeypatch.chdir(world.home)
    spec = importlib.util.spec_from_file_location(f"notebook_{name}", NOTEBOOKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, definitions = module.app.run()
    return SimpleNamespace(**{name: definitions[name] for name in definitions})


def test_every_notebook_is_a_plain_marimo_file_opened_by_just_notebook() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.py")) == [
        "explore_customer_360.py",
        "pipeline_health.py",
    ]
    for notebook in NOTEBOOKS.glob("*.py"):
        assert "app = marimo.App(" in notebook.read_text()
    assert "marimo edit" in (REPO_ROOT / "justfile").read_text()


def test_explore_customer_360_finds_a_customer_and_everything_resolved_to_them(
    world: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_notebook("explore_customer_360", world, monkeypatch)
    key = nb.customer_key
    mine = pl.col("customer_key") == key

    assert nb.profiles.height == world.rows("curated.customer_360").height
    # The email typed (any case) finds the customer whose emails hold it.
    assert nb.wanted == nb.email.value.strip().lower()
    assert nb.found["customer_key"].to_list() == [key]
    assert nb.records.height == world.rows("staging.customer_xref").filter(mine).height > 1
    assert nb.history.height == world.rows("curated.dim_customer").filter(mine).height >= 1
    facts = sum(
        world.rows(t).filter(mine).height
        for t in ("curated.fct_orders", "curated.fct_sessions", "curated.fct_support_tickets")
    )
    assert nb.timeline.height == facts > 0
    # Time travel: day 0's table, plus what came, minus what went, is today's.
    first = world.rows("ops.pipeline_runs").sort("started_at")["run_id"][0]
    manifest = world.rows("ops.run_snapshots").filter(
        (pl.col("run_id") == first) & (pl.col("table_name") == "curated.customer_360")
    )
    assert nb.then_id == manifest.filter(pl.col("role") == "result")["snapshot_id"].item()
    assert nb.then_id != nb.now_id
    assert nb.then.height + nb.added - nb.removed == nb.profiles.height


def test_pipeline_health_shows_every_run_feed_and_table(
    world: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_notebook("pipeline_health", world, monkeypatch)

    assert nb.runs.height == DAYS + 1
    assert nb.trend.height == (DAYS + 1) * 5  # the five SLOs, every run
    assert nb.missed.is_empty()
    assert nb.latest.height == 11
    assert set(nb.identity["run_id"]) == set(world.rows("ops.identity_metrics")["run_id"])
    assert nb.steps.height == (DAYS + 1) * 8
    tables = {name for zone in ("raw", "staging", "curated", "ops") for name in _names(world, zone)}
    assert set(nb.sizes["table_name"]) == tables
    assert nb.alerts.is_empty()


def _names(world: Lakehouse, zone: str) -> list[str]:
    return [".".join(t) for t in world.catalog().list_tables(zone)]
