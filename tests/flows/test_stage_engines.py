"""Polars, DuckDB and Spark stage the same raw snapshot into identical staging tables."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest

from c360.settings import Settings
from catalog.factory import open_catalog
from flows.stage import STAGED
from simulator.world import simulate
from tests.flows.crm_source import table_rows
from tests.flows.lakehouse_days import ingest_everything, stage_everything
from transforms.engines import EngineName


@pytest.mark.slow
@pytest.mark.usefixtures("spark")
def test_every_engine_stages_the_same_rows_and_values(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        scale="tiny", simulator={"faults": ["null_keys", "duplicate_keys"], "fault_day": 1}
    )
    catalog = open_catalog(settings)
    for day in range(2):
        simulate(settings, days=min(day, 1))
        ingest_everything(settings, catalog, f"day-{day}")

    results: dict[EngineName, dict[str, pl.DataFrame]] = {}
    held: dict[EngineName, dict[str, int]] = {}
    engines: tuple[EngineName, ...] = ("polars", "duckdb", "spark")
    for engine in engines:
        outcomes = stage_everything(settings, catalog, f"with-{engine}", engine=engine, full=True)
        assert {o.status for o in outcomes.values()} == {"staged"}, engine
        held[engine] = {name: o.quarantined_rows for name, o in outcomes.items()}
        results[engine] = {
            name: table_rows(catalog, s.target).sort(s.target.column_names, nulls_last=True)
            for name, s in STAGED.items()
        }

    for engine in engines[1:]:
        assert held[engine] == held["polars"], engine
        for name, expected in results["polars"].items():
            assert expected.height > 0, name
            assert results[engine][name].equals(expected), f"{engine}: {name}"
    assert sum(held["polars"].values()) > 0
