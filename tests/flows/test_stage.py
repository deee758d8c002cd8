"""Stage: raw history to clean current state in `staging.*`, reconciled with the sources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.contracts import load_contracts
from catalog.tables import ops, raw, staging
from catalog.writer import WriteResult, write
from flows.ingest_db import CRM, DATABASES, capture_database
from flows.ingest_stream import consume
from flows.stage import SOURCE_SNAPSHOT, STAGED, StageOutcome, stage_table
from simulator.clock import day_start
from simulator.emitters.database import connect, read_rows
from simulator.sources import clickstream, crm, orders
from simulator.truth import read_manifest
from simulator.world import simulate
from tests.flows.crm_source import (
    CHANGED_AT,
    INSERTED,
    UPDATED,
    change_crm,
    crm_url,
    source_rows,
    table_rows,
)
from transforms.polars import normalise


@pytest.fixture
def world(make_settings: Callable[..., Settings]) -> Settings:
    """A tiny simulated world (SQLite CRM) under the test's home, where `catalog` lives."""
    tiny = make_settings(scale="tiny")
    simulate(tiny)
    return tiny


def _capture(settings: Settings, catalog: Catalog) -> WriteResult:
    (result,) = capture_database(catalog, crm_url(settings), CRM.tables, run_id="r")
    return result


def _stage(catalog: Catalog, run_id: str = "r", name: str = "crm_customers") -> StageOutcome:
    staged = STAGED[name]
    return stage_table(catalog, staged, load_contracts()[staged.feed], run_id=run_id)


def _normalised(source: pl.DataFrame) -> pl.DataFrame:
    """The source rows as staging should hold them."""
    return source.with_columns(
        normalise.name("first_name"),
        normalise.name("last_name"),
        normalise.email("email"),
        normalise.phone_e164("phone"),
        normalise.name("street"),
        normalise.name("city"),
        normalise.country_code("country"),
    ).sort("customer_id")


def _staged(catalog: Catalog) -> pl.DataFrame:
    return table_rows(catalog, staging.CRM_CUSTOMERS).sort("customer_id")


def test_staging_holds_the_sources_current_rows_normalised(
    world: Settings, catalog: Catalog
) -> None:
    _capture(world, catalog)
    change_crm(world)
    _capture(world, catalog)

    result = _stage(catalog)

    staged = _staged(catalog)
    expected = _normalised(source_rows(world))
    (written,) = [w for w in result.writes if w.table == staging.CRM_CUSTOMERS.identifier_name]
    assert written.rows == staged.height == expected.height
    assert staged["customer_id"].is_unique().all()
    assert staged.columns == staging.CRM_CUSTOMERS.column_names
    assert staged.select(expected.columns).equals(expected)
    # The changed rows are staged in their newest version, cleaned.
    changed = staged.filter(pl.col("customer_id").is_in(UPDATED + INSERTED))
    assert changed["email"].to_list() == [
        "moved0@example.com",
        "moved1@example.com",
        "moved2@example.com",
        "new0@example.com",
        "new1@example.com",
    ]
    new = changed.filter(pl.col("customer_id") == INSERTED[0]).row(0, named=True)
    assert (new["first_name"], new["last_name"], new["phone"], new["street"]) == (
        "New",
        "Customer 0",
        "+15550100000",
        "1 Elm St",
    )
    # Every phone the simulator typed parses.
    assert staged["phone"].null_count() == 0


def test_deleted_customers_are_not_staged(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    gone = table_rows(catalog, raw.CRM_CUSTOMERS).filter(pl.col("customer_id") == UPDATED[0])
    deletion = gone.with_columns(
        _cdc_operation=pl.lit("delete"),
        updated_at=pl.lit(CHANGED_AT).dt.replace_time_zone("UTC"),
        _ingested_at=pl.col("_ingested_at") + timedelta(minutes=1),
        _batch_id=pl.lit("delete-batch"),
    )
    write(catalog, raw.CRM_CUSTOMERS, deletion, batch_id="delete-batch", run_id="r")

    _stage(catalog)

    staged = _staged(catalog)
    expected = _normalised(source_rows(world)).filter(pl.col("customer_id") != UPDATED[0])
    assert staged.select(expected.columns).equals(expected)


def test_restaging_the_same_raw_snapshot_changes_nothing(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    first = _stage(catalog, "run-1")
    table = catalog.load_table(staging.CRM_CUSTOMERS.identifier_name)
    snapshots = len(table.snapshots())

    again = _stage(catalog, "run-2")

    assert first.status == "staged"
    assert again.status == "unchanged"
    assert again.writes == []
    assert len(table.refresh().snapshots()) == snapshots
    assert _staged(catalog).height == first.staged_rows


def test_a_new_raw_snapshot_restages_in_place(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    first = _stage(catalog)
    change_crm(world)
    _capture(world, catalog)

    second = _stage(catalog)

    staged = _staged(catalog)
    # Only the new capture is read: the changed and inserted rows.
    assert second.raw_rows == len(UPDATED) + len(INSERTED)
    assert staged.height == first.staged_rows + len(INSERTED)
    # Overwritten, not appended: one row per customer.
    assert staged["customer_id"].is_unique().all()
    assert staged.select(source_rows(world).columns).equals(_normalised(source_rows(world)))


def test_a_customer_deleted_in_the_source_is_not_staged(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    engine = connect(crm_url(world))
    with engine.begin() as conn:
        conn.execute(crm.CUSTOMERS.delete().where(crm.CUSTOMERS.c.customer_id == UPDATED[0]))
    engine.dispose()
    # The delete row the capture appends says neither when nor what: only key and capture time.
    _capture(world, catalog)

    _stage(catalog)

    staged = _staged(catalog)
    assert UPDATED[0] not in staged["customer_id"].to_list()
    assert staged.select(source_rows(world).columns).equals(_normalised(source_rows(world)))


# --- Reconciliation: staging against the sources, after days of ingestion -------------------


def _ingest_day(settings: Settings, catalog: Catalog, day: int) -> None:
    """Capture both databases and drain the stream, as the day's ingestion does."""
    sources = settings.resolved_sources()
    for database in DATABASES.values():
        url = database.url(sources)
        assert url
        capture_database(catalog, url, database.tables, run_id=f"day-{day}")
    consume(settings, follow=False, run_id=f"day-{day}")


def _orders_source(settings: Settings) -> pl.DataFrame:
    url = settings.resolved_sources().orders_url
    assert url
    engine = connect(url)
    try:
        return read_rows(engine, orders.ORDERS)
    finally:
        engine.dispose()


def test_staging_reconciles_with_the_sources_after_two_days(
    world: Settings, catalog: Catalog
) -> None:
    _ingest_day(world, catalog, 0)
    simulate(world, days=1)
    _ingest_day(world, catalog, 1)

    _stage(catalog, name="orders")
    _stage(catalog, name="clickstream_events")

    # Orders: exactly the source database's current rows, in their current state.
    source = _orders_source(world).with_columns(pl.col("updated_at").dt.replace_time_zone("UTC"))
    staged = table_rows(catalog, staging.ORDERS_ORDERS).sort("order_id")
    assert staged.height == source.height > 0
    assert staged["order_id"].to_list() == source["order_id"].to_list()
    assert staged.select("status", "updated_at").equals(source.select("status", "updated_at"))
    # Clickstream: one row per distinct event the stream was sent, duplicates gone.
    manifest = read_manifest(world.sources_dir / "truth")
    distinct = manifest.filter(pl.col("dataset") == clickstream.DISTINCT_DATASET)
    events = table_rows(catalog, staging.CLICKSTREAM_EVENTS)
    landed = table_rows(catalog, raw.CLICKSTREAM_EVENTS)
    assert sorted(distinct["day"].to_list()) == [0, 1]
    assert events.height == distinct["rows"].sum() < landed.height
    assert events["event_id"].is_unique().all()
    # Day 0's held-back events arrived with day 1's: placed back by event time, and they
    # (only they) are late: day 1's own events are all newer than day 0's watermark.
    assert events["event_at"].is_sorted()
    late = events.filter("is_late")
    assert late.height > 0
    assert (late["event_at"] < day_start(1)).all()
    assert (
        late.height
        == events.filter(
            (pl.col("event_at") < day_start(1))
            & (pl.col("ingested_at") > events["ingested_at"].min())
        ).height
    )


def test_a_backlog_staged_in_steps_equals_staging_it_at_once(
    world: Settings, catalog: Catalog
) -> None:
    # Two days of orders (a state table: 1,055 then 55 raw rows) and of events, landed in
    # commits of 500 events: a backlog staging takes 1,000 raw rows at a time.
    for day in (0, 1):
        if day:
            simulate(world, days=1)
        sources = world.resolved_sources()
        for database in DATABASES.values():
            url = database.url(sources)
            assert url
            capture_database(catalog, url, database.tables, run_id=f"day-{day}")
        consume(world, follow=False, run_id=f"day-{day}", max_batch_records=500)
    contracts = load_contracts()
    stepped = {
        name: stage_table(
            catalog, STAGED[name], contracts[STAGED[name].feed], run_id="r", max_rows=1_000
        )
        for name in ("orders", "clickstream_events")
    }

    raw_events = catalog.load_table(raw.CLICKSTREAM_EVENTS.identifier_name)
    raw_rows = raw_events.scan().to_arrow().num_rows
    events = catalog.load_table(staging.CLICKSTREAM_EVENTS.identifier_name)
    # One commit per step, each naming the raw snapshot it consumed, the last the newest.
    consumed = [s.summary.get(SOURCE_SNAPSHOT) for s in events.snapshots() if s.summary]
    assert len(consumed) == len(set(consumed)) > 2
    newest = raw_events.current_snapshot()
    assert newest is not None
    assert consumed[-1] == str(newest.snapshot_id)
    outcome = stepped["clickstream_events"]
    assert outcome.raw_rows == raw_rows
    assert outcome.raw_rows == outcome.staged_rows + outcome.quarantined_rows
    assert outcome.batches == len(raw_events.snapshots())
    books = table_rows(catalog, ops.STAGING_BATCHES).filter(pl.col("feed") == "clickstream_events")
    assert books.height == outcome.batches
    assert books["raw_rows"].sum() == raw_rows
    # The same rows and values as one step over the whole backlog, lateness included.
    in_steps = table_rows(catalog, staging.CLICKSTREAM_EVENTS).sort("event_id")
    stage_table(
        catalog,
        STAGED["clickstream_events"],
        contracts["clickstream_events"],
        run_id="rebuild",
        full=True,
        max_rows=10**9,
    )
    at_once = table_rows(catalog, staging.CLICKSTREAM_EVENTS).sort("event_id")
    assert in_steps.height == at_once.height > 0
    assert in_steps.drop("ingested_at").equals(at_once.drop("ingested_at"))
    assert in_steps.filter("is_late").height > 0
    # Orders: two steps, one per raw commit, ending in the source's current rows.
    orders = catalog.load_table(staging.ORDERS_ORDERS.identifier_name).snapshots()
    assert len({s.summary.get(SOURCE_SNAPSHOT) for s in orders if s.summary} - {None}) == 2
    source = _orders_source(world)
    assert stepped["orders"].staged_rows + stepped["orders"].quarantined_rows > source.height
    staged_orders = table_rows(catalog, staging.ORDERS_ORDERS).sort("order_id")
    assert staged_orders["order_id"].to_list() == source.sort("order_id")["order_id"].to_list()
