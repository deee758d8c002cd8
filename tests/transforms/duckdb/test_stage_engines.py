"""The stage flow's steps in DuckDB and in Polars, on a simulated world's raw tables: the
same rows charged to the same rules, the same rows accepted per batch and the same rows
staged, on a first run and on the next day's increment."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.contracts import load_contracts
from catalog.writer import fit_to_schema
from flows.stage import STAGED, TRACE_COLUMNS, Staged, compute
from simulator.world import simulate
from tests.flows.lakehouse_days import ingest_everything, stage_everything
from transforms.engines import COLUMN, RULE, VALUE, EngineName

pytestmark = pytest.mark.slow


def _stage_steps(
    engine: EngineName, catalog: Catalog, staged: Staged, settings: Settings, *, full: bool
) -> tuple[pa.Table, pa.Table, dict[str, int]] | None:
    """What `stage_table` computes before writing: staged rows, charges, accepted counts
    (None when the feed gained nothing)."""
    contract = load_contracts(settings.contracts_dir)[staged.feed]
    computed = compute(catalog, staged, contract, engine=engine, run_id="r", full=full)
    if computed is None:
        return None
    charges = computed.quarantine.rename(
        {
            "batch_id": "_batch_id",
            "source_file": "_source_file",
            "source_position": "_source_position",
            "ingested_at": "_ingested_at",
            "rule": RULE,
            "column_name": COLUMN,
            "value": VALUE,
        }
    ).to_arrow()
    return computed.result, charges, dict(computed.accepted)


def _assert_same_steps(catalog: Catalog, settings: Settings, *, full: bool) -> int:
    """Both engines' steps agree on every staged feed; returns the rows staged. (A tiny
    world is clean: tests/transforms/duckdb/test_contracts.py charges dirty rows.)"""
    rows = 0
    for staged in STAGED.values():
        by_polars, by_duckdb = (
            _stage_steps(e, catalog, staged, settings, full=full) for e in ("polars", "duckdb")
        )
        if by_polars is None or by_duckdb is None:
            assert by_polars is by_duckdb, staged.target.name
            continue
        schema = staged.target.schema()
        keys = [(k, "ascending") for k in staged.target.identifier]
        expected, actual = (
            fit_to_schema(steps[0], schema, staged.target.name).sort_by(keys)
            for steps in (by_polars, by_duckdb)
        )
        assert actual.equals(expected), staged.target.name
        charges = [*TRACE_COLUMNS, RULE, COLUMN, VALUE]
        order = [(c, "ascending") for c in ("_batch_id", "_source_file", "_source_position", RULE)]
        assert (
            by_duckdb[1].select(charges).sort_by(order).to_pylist()
            == by_polars[1].select(charges).sort_by(order).to_pylist()
        ), staged.target.name
        assert by_duckdb[2] == by_polars[2], staged.target.name
        rows += actual.num_rows
    return rows


def test_both_engines_stage_a_world_alike(
    make_settings: Callable[..., Settings], catalog: Catalog
) -> None:
    settings = make_settings(scale="tiny")
    simulate(settings)
    ingest_everything(settings, catalog, "day-0")

    first_run = _assert_same_steps(catalog, settings, full=True)
    stage_everything(settings, catalog, "day-0")
    simulate(settings, days=1)
    ingest_everything(settings, catalog, "day-1")
    increment = _assert_same_steps(catalog, settings, full=False)
    rebuild = _assert_same_steps(catalog, settings, full=True)

    assert first_run > 0
    assert increment > 0
    assert rebuild >= first_run
