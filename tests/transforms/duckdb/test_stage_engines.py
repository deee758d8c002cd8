"""The stage flow's steps in DuckDB and in Polars, on a simulated world's raw tables: the
same rows charged to the same rules, the same rows accepted per batch and the same rows
staged, on a first run and on the next day's increment."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.contracts import ViolationAction, load_contracts
from catalog.contracts.rules import rules_for
from catalog.registry import ensure_table
from catalog.writer import fit_to_schema
from flows.ingest_db import DATABASES, capture_database
from flows.ingest_files import VENDOR_FEEDS, ingest_feed
from flows.ingest_stream import consume
from flows.ingest_tickets import TICKETS
from flows.stage import (
    ALWAYS_HELD,
    STAGED,
    TRACE_COLUMNS,
    Staged,
    batches_since,
    consumed_snapshot,
    stage_table,
)
from simulator.emitters.landing import open_landing
from simulator.world import simulate
from transforms.engines import COLUMN, RULE, VALUE, EngineName, Source, check, function, get_engine

pytestmark = pytest.mark.slow


def _ingest(settings: Settings, catalog: Catalog, run_id: str) -> None:
    """Every source family into raw, as a run's ingestion does."""
    sources = settings.resolved_sources()
    for database in DATABASES.values():
        url = database.url(sources)
        assert url
        capture_database(catalog, url, database.tables, run_id=run_id)
    consume(settings, follow=False, run_id=run_id)
    landing = open_landing(settings)
    for feed in (*VENDOR_FEEDS.values(), TICKETS):
        ingest_feed(catalog, landing, feed, run_id=run_id)


def _stage_steps(
    engine: EngineName, catalog: Catalog, staged: Staged, settings: Settings, *, full: bool
) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """What `stage_table` computes before writing: staged rows, violations, accepted counts."""
    contract = load_contracts(settings.contracts_dir)[staged.feed]
    raw_table = ensure_table(catalog, staged.source)
    target = ensure_table(catalog, staged.target)
    current = raw_table.current_snapshot()
    assert current is not None
    batch_ids = None if full else batches_since(raw_table, consumed_snapshot(target))
    prior_snapshot = target.current_snapshot()
    new = Source(raw_table, current.snapshot_id, batch_ids)
    prior = Source(target, None if full or prior_snapshot is None else prior_snapshot.snapshot_id)
    rules = rules_for(contract, {f.name: f.field_type for f in raw_table.schema().fields})
    passing = (
        frozenset(r.name for r in rules) - ALWAYS_HELD
        if contract.enforcement.on_violation is ViolationAction.ALERT
        else frozenset()
    )

    runner = get_engine(engine)
    checked = check(engine, runner.load(new), rules)
    accepted = runner.accepted(checked, passing)
    transform = function(engine, staged.module, staged.function)
    result = runner.to_arrow(transform(runner.load(prior), accepted))
    violations = runner.violations(checked, TRACE_COLUMNS)
    return result, violations, runner.counts(accepted, "_batch_id")


def _assert_same_steps(catalog: Catalog, settings: Settings, *, full: bool) -> int:
    """Both engines' steps agree on every staged feed; returns the rows staged. (A tiny
    world is clean: tests/transforms/duckdb/test_contracts.py charges dirty rows.)"""
    rows = 0
    for staged in STAGED.values():
        by_polars, by_duckdb = (
            _stage_steps(e, catalog, staged, settings, full=full) for e in ("polars", "duckdb")
        )
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
    _ingest(settings, catalog, "day-0")

    first_run = _assert_same_steps(catalog, settings, full=True)
    contracts = load_contracts(settings.contracts_dir)
    for staged in STAGED.values():
        stage_table(catalog, staged, contracts[staged.feed], engine="polars", run_id="day-0")
    simulate(settings, days=1)
    _ingest(settings, catalog, "day-1")
    increment = _assert_same_steps(catalog, settings, full=False)
    rebuild = _assert_same_steps(catalog, settings, full=True)

    assert first_run > 0
    assert increment > 0
    assert rebuild >= first_run
