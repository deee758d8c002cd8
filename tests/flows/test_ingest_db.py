"""Ingest: replicating the CRM and orders databases into the raw zone, from SQLite and the
MariaDB and PostgreSQL servers, reconciled against the simulator's manifest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from pyiceberg.catalog import Catalog
from sqlalchemy.engine import Engine

from c360.settings import Settings, SimulatorSettings, SourceSettings
from catalog.tables import ops, raw
from catalog.writer import BATCH_ID, WriteResult
from flows import ingest_db
from flows.ingest_db import (
    CAPTURE_COLUMNS,
    CRM,
    DATABASES,
    ORDERS,
    WATERMARK,
    ReplicatedTable,
    capture_database,
    ingest_database,
    last_watermark,
    read_source_keys,
)
from simulator.clock import day_start
from simulator.emitters.database import connect
from simulator.sources import crm
from simulator.truth import frame_checksum, read_manifest
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

FAULT_DAY = 1
LAST_DAY = 3


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def sources(request: pytest.FixtureRequest) -> SourceSettings:
    """Both source databases on each backend: SQLite files, or one server database."""
    if request.param == "mariadb":
        url = request.getfixturevalue("mysql_url")
    elif request.param == "postgresql":
        # Sessions not on UTC: the naive timestamps the sources store are still UTC.
        url = f"{request.getfixturevalue('postgres_url')}?options=-c%20timezone%3DAmerica/New_York"
    else:
        return SourceSettings()
    return SourceSettings(crm_url=url, orders_url=url)


@pytest.fixture
def world(make_settings: Callable[..., Settings], sources: SourceSettings) -> Settings:
    """A tiny simulated world at day 0, its databases on each backend."""
    settings = make_settings(scale="tiny", sources=sources)
    simulate(settings)
    return settings


@pytest.fixture
def faulty_world(make_settings: Callable[..., Settings], sources: SourceSettings) -> Settings:
    """A tiny world at day 0 whose day 1 drifts the CRM's schema and skews its clocks."""
    faults = SimulatorSettings(faults=["schema_drift", "clock_skew"], fault_day=FAULT_DAY)
    settings = make_settings(scale="tiny", sources=sources, simulator=faults)
    simulate(settings)
    return settings


def _capture(settings: Settings, catalog: Catalog, run_id: str) -> WriteResult:
    (result,) = capture_database(catalog, crm_url(settings), CRM.tables, run_id=run_id)
    return result


def _ingest(settings: Settings, catalog: Catalog, run_id: str) -> list[WriteResult]:
    sources = settings.resolved_sources()
    results = []
    for database in DATABASES.values():
        url = database.url(sources)
        assert url
        results += capture_database(catalog, url, database.tables, run_id=run_id)
    return results


def _raw(catalog: Catalog) -> pl.DataFrame:
    return table_rows(catalog, raw.CRM_CUSTOMERS).sort("customer_id", "_ingested_at")


def _watermark(catalog: Catalog) -> str | None:
    snapshot = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    return snapshot.summary[WATERMARK]


def _snapshots(catalog: Catalog) -> dict[str, int | None]:
    tables = [t.raw.identifier_name for db in DATABASES.values() for t in db.tables]
    ids = {}
    for name in [*tables, ops.SCHEMA_CHANGES.identifier_name]:
        if catalog.table_exists(name):
            snapshot = catalog.load_table(name).current_snapshot()
            ids[name] = snapshot.snapshot_id if snapshot else None
    return ids


def _source_columns(table: ReplicatedTable) -> list[str]:
    return [c for c in table.raw.column_names if c not in CAPTURE_COLUMNS]


def _execute(settings: Settings, *statements: sa.Executable) -> None:
    engine = connect(crm_url(settings))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)
    finally:
        engine.dispose()


# --- The CRM: full load, then changes ------------------------------------------------------


def test_first_capture_lands_every_row_as_an_insert(world: Settings, catalog: Catalog) -> None:
    result = _capture(world, catalog, "run-1")

    source = source_rows(world)
    landed = _raw(catalog)
    assert not result.skipped
    assert result.rows == source.height == landed.height
    assert landed.select(source.columns).equals(source)
    assert landed["_cdc_operation"].unique().to_list() == ["insert"]
    assert landed["_source_committed_at"].equals(landed["updated_at"], check_names=False)
    assert landed["_source"].unique().to_list() == [crm.DATASET]
    assert landed["_batch_id"].unique().to_list() == [result.batch_id]
    assert landed["_ingested_at"].null_count() == 0


def test_snapshot_summary_carries_the_watermark(world: Settings, catalog: Catalog) -> None:
    result = _capture(world, catalog, "run-1")

    snapshot = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    newest = source_rows(world)["updated_at"].max()
    assert newest is not None
    assert snapshot.snapshot_id == result.snapshot_id
    assert snapshot.summary[WATERMARK] == newest.isoformat()
    assert snapshot.summary[BATCH_ID] == result.batch_id


def test_capture_without_source_changes_writes_nothing(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog, "run-1")
    table = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name)
    snapshots = len(table.snapshots())

    again = _capture(world, catalog, "run-2")

    assert again.skipped
    assert again.rows == 0
    assert len(table.refresh().snapshots()) == snapshots
    assert _raw(catalog).height == source_rows(world).height


def test_capture_appends_exactly_the_changed_rows(world: Settings, catalog: Catalog) -> None:
    first = _capture(world, catalog, "run-1")
    change_crm(world)

    changes = _capture(world, catalog, "run-2")

    source = source_rows(world)
    landed = _raw(catalog)
    appended = landed.filter(pl.col("_batch_id") == changes.batch_id).sort("customer_id")
    assert changes.rows == 5
    assert landed.height == first.rows + changes.rows
    assert dict(zip(appended["customer_id"], appended["_cdc_operation"], strict=True)) == {
        **dict.fromkeys(UPDATED, "update"),
        **dict.fromkeys(INSERTED, "insert"),
    }
    # The appended versions are the source's current rows; the earlier versions stay.
    current = source.filter(pl.col("customer_id").is_in(UPDATED + INSERTED))
    assert appended.select(source.columns).equals(current)
    assert landed.filter(pl.col("customer_id").is_in(UPDATED)).height == 2 * len(UPDATED)
    newest = source["updated_at"].max()
    assert newest is not None
    assert _watermark(catalog) == newest.isoformat()
    assert _capture(world, catalog, "run-3").skipped


def test_capture_after_a_simulated_day_lands_exactly_that_days_changes(
    world: Settings, catalog: Catalog
) -> None:
    first = _capture(world, catalog, "run-1")
    simulate(world, days=1)

    changes = _capture(world, catalog, "run-2")

    manifest = read_manifest(world.sources_dir / "truth").filter(
        pl.col("day") == 1, pl.col("dataset") == crm.DATASET
    )
    appended = _raw(catalog).filter(pl.col("_batch_id") == changes.batch_id)
    assert changes.rows == manifest["rows"].item() > 0
    # The very rows the CRM emitted that day, as the manifest's checksum recorded them.
    assert frame_checksum(appended.select(crm.COLUMNS), "customer_id") == (
        manifest["checksum"].item()
    )
    assert _raw(catalog).height == first.rows + changes.rows
    known = set(_raw(catalog).filter(pl.col("_batch_id") == first.batch_id)["customer_id"])
    expected_ops = {i: "update" if i in known else "insert" for i in appended["customer_id"]}
    assert dict(zip(appended["customer_id"], appended["_cdc_operation"], strict=True)) == (
        expected_ops
    )


# --- Reconciliation: every table, every day, against the manifest ---------------------------


def test_every_days_raw_rows_reconcile_with_the_manifest(
    faulty_world: Settings, catalog: Catalog
) -> None:
    for day in range(LAST_DAY + 1):
        if day:
            simulate(faulty_world, days=1)
        results = _ingest(faulty_world, catalog, f"day-{day}")
        manifest = read_manifest(faulty_world.sources_dir / "truth").filter(pl.col("day") == day)

        for database in DATABASES.values():
            for table in database.tables:
                _check_day(catalog, table, results, manifest, day)
        # Re-running the same day's ingestion adds nothing anywhere.
        before = _snapshots(catalog)
        again = _ingest(faulty_world, catalog, f"day-{day}-again")
        assert all(r.skipped and r.rows == 0 for r in again)
        assert _snapshots(catalog) == before

    # Every version is in raw once: no key holds the same `updated_at` twice.
    for database in DATABASES.values():
        for table in database.tables:
            landed = table_rows(catalog, table.raw).filter(pl.col("_cdc_operation") != "delete")
            version = [table.key, table.updated_at] if table.updated_at else [table.key]
            assert landed.select(version).is_duplicated().sum() == 0, table.dataset
    # The CRM's deletes all arrived, and those customers are gone from the source.
    manifest = read_manifest(faulty_world.sources_dir / "truth")
    emitted = manifest.filter(pl.col("dataset") == crm.DATASET)["deletes"].sum()
    deleted = table_rows(catalog, raw.CRM_CUSTOMERS).filter(pl.col("_cdc_operation") == "delete")
    assert deleted.height == emitted > 0
    assert not set(deleted["customer_id"]) & set(source_rows(faulty_world)["customer_id"])
    drift = table_rows(catalog, ops.SCHEMA_CHANGES)
    assert drift.select("table_name", "column_name", "change").rows() == [
        (raw.CRM_CUSTOMERS.identifier_name, crm.DRIFT_COLUMN, "added")
    ]


def _check_day(
    catalog: Catalog,
    table: ReplicatedTable,
    results: list[WriteResult],
    manifest: pl.DataFrame,
    day: int,
) -> None:
    """The rows the day's ingestion landed for `table` are the ones its manifest lists."""
    (expected,) = manifest.filter(pl.col("dataset") == table.dataset).iter_rows(named=True)
    (result,) = [r for r in results if r.table == table.raw.identifier_name]
    batch = table_rows(catalog, table.raw).filter(pl.col("_batch_id") == result.batch_id)
    changes = batch.filter(pl.col("_cdc_operation") != "delete")
    deletes = batch.filter(pl.col("_cdc_operation") == "delete")
    label = f"{table.dataset} day {day}"

    assert changes.height == expected["rows"], label
    assert deletes.height == expected["deletes"], label
    assert batch["_source"].unique().to_list() in ([table.dataset], []), label
    # Raw keeps the source's types (decimal money, int32 quantities, UTC microsecond
    # timestamps), so projecting back to the emitted columns reproduces the checksum.
    columns = _source_columns(table)
    if table.dataset == crm.DATASET and day == FAULT_DAY:
        columns.append(crm.DRIFT_COLUMN)
    assert frame_checksum(changes.select(columns), table.key) == expected["checksum"], label
    if day == 0:
        assert changes["_cdc_operation"].unique().to_list() == ["insert"], label
    if table.updated_at is not None:
        assert changes["_source_committed_at"].equals(changes[table.updated_at], check_names=False)
    assert deletes.select(_source_columns(table)).drop(table.key).null_count().row(0) == tuple(
        [deletes.height] * (len(_source_columns(table)) - 1)
    ), label
    assert deletes["_source_committed_at"].null_count() == deletes.height, label


def test_a_late_commit_under_the_clock_skew_fault_lands_exactly_once(
    make_settings: Callable[..., Settings], catalog: Catalog
) -> None:
    # At `small` scale the skewed day holds rows stamped before the previous watermark.
    faults = SimulatorSettings(faults=["clock_skew"], fault_day=FAULT_DAY)
    settings = make_settings(scale="small", simulator=faults)
    simulate(settings)
    (first,) = capture_database(catalog, crm_url(settings), CRM.tables, run_id="day-0")
    watermark = last_watermark(catalog.load_table(raw.CRM_CUSTOMERS.identifier_name))
    simulate(settings, days=1)

    (day1,) = capture_database(catalog, crm_url(settings), CRM.tables, run_id="day-1")
    (again,) = capture_database(catalog, crm_url(settings), CRM.tables, run_id="day-1b")

    landed = table_rows(catalog, raw.CRM_CUSTOMERS)
    batch = landed.filter(
        pl.col("_batch_id") == day1.batch_id, pl.col("_cdc_operation") != "delete"
    )
    late = batch.filter(pl.col("updated_at") < watermark)
    assert watermark is not None
    assert late.height > 0
    assert late["_cdc_operation"].unique().to_list() == ["update"]
    manifest = read_manifest(settings.sources_dir / "truth").filter(
        pl.col("day") == FAULT_DAY, pl.col("dataset") == crm.DATASET
    )
    assert frame_checksum(batch.select(crm.COLUMNS), "customer_id") == manifest["checksum"].item()
    assert again.skipped
    assert landed.height == first.rows + day1.rows
    # The watermark never moves back for a late row.
    assert last_watermark(catalog.load_table(raw.CRM_CUSTOMERS.identifier_name)) >= watermark


# --- Late commits, deletes and schema drift, made by hand ------------------------------------


def test_late_commits_within_the_overlap_and_late_inserts_are_captured_once(
    world: Settings, catalog: Catalog
) -> None:
    _capture(world, catalog, "run-1")
    watermark = last_watermark(catalog.load_table(raw.CRM_CUSTOMERS.identifier_name))
    assert watermark is not None
    table = crm.CUSTOMERS
    naive = watermark.replace(tzinfo=None)
    # An update stamped an hour before the watermark (inside the overlap), and an insert
    # stamped two days before it (outside any overlap: found as a new key).
    _execute(
        world,
        table.update()
        .where(table.c.customer_id == UPDATED[0])
        .values(email="late@example.com", updated_at=naive - timedelta(hours=1)),
        table.insert().values(
            customer_id=INSERTED[0], email="old@example.com", updated_at=naive - timedelta(days=2)
        ),
    )

    late = _capture(world, catalog, "run-2")
    again = _capture(world, catalog, "run-3")

    appended = _raw(catalog).filter(pl.col("_batch_id") == late.batch_id)
    assert appended.select("customer_id", "email", "_cdc_operation").rows() == [
        (UPDATED[0], "late@example.com", "update"),
        (INSERTED[0], "old@example.com", "insert"),
    ]
    assert again.skipped
    assert _watermark(catalog) == watermark.isoformat()


def test_deleted_rows_land_as_delete_rows_once(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog, "run-1")
    gone = UPDATED[:2]
    _execute(world, crm.CUSTOMERS.delete().where(crm.CUSTOMERS.c.customer_id.in_(gone)))

    deletion = _capture(world, catalog, "run-2")
    again = _capture(world, catalog, "run-3")

    landed = _raw(catalog)
    deletes = landed.filter(pl.col("_cdc_operation") == "delete")
    assert deletion.rows == len(gone)
    assert again.skipped
    assert deletes["customer_id"].to_list() == gone
    assert deletes["_batch_id"].unique().to_list() == [deletion.batch_id]
    assert deletes["_source"].unique().to_list() == [crm.DATASET]
    assert deletes["_ingested_at"].null_count() == 0
    assert deletes.select("email", "updated_at", "_source_committed_at").null_count().row(0) == (
        2,
        2,
        2,
    )
    # Live in raw again once the source has the key again.
    change = crm.CUSTOMERS.insert().values(
        customer_id=gone[0], email="back@example.com", updated_at=CHANGED_AT
    )
    _execute(world, change)
    back = _capture(world, catalog, "run-4")
    returned = _raw(catalog).filter(pl.col("_batch_id") == back.batch_id)
    assert returned.select("customer_id", "_cdc_operation").rows() == [(gone[0], "insert")]


def _source_keys(settings: Settings) -> list[str]:
    engine = connect(crm_url(settings))
    try:
        with engine.connect() as conn:
            return sorted(read_source_keys(conn, crm.CUSTOMERS.c.customer_id).to_list())
    finally:
        engine.dispose()


def test_source_keys_are_read_whole_in_pages_and_with_the_separator_in_a_key(
    world: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = sorted(source_rows(world)["customer_id"].to_list())
    assert len(rows) > 3 * 7
    monkeypatch.setattr(ingest_db, "KEYS_PER_STRING", 7)
    assert _source_keys(world) == rows
    monkeypatch.setattr(ingest_db, "KEYS_PER_STRING", len(rows))  # one full page, one empty
    assert _source_keys(world) == rows

    # Joined, this key would read as two: the keys are read a row each instead.
    _execute(
        world,
        crm.CUSTOMERS.insert().values(
            customer_id="C9,99", email="comma@example.com", updated_at=CHANGED_AT
        ),
    )
    assert _source_keys(world) == sorted([*rows, "C9,99"])


def test_a_source_columns_change_evolves_raw_and_is_recorded_once(
    world: Settings, catalog: Catalog
) -> None:
    _capture(world, catalog, "run-1")
    _execute(
        world,
        sa.text("ALTER TABLE customers ADD COLUMN referral_code VARCHAR(12)"),
        sa.text("ALTER TABLE customers DROP COLUMN phone"),
        sa.text(
            "UPDATE customers SET referral_code = 'REF1', updated_at = :at WHERE customer_id = :id"
        ).bindparams(at=day_start(5).replace(tzinfo=None), id=UPDATED[0]),
    )

    first = capture_database(catalog, crm_url(world), CRM.tables, run_id="run-2")
    again = capture_database(catalog, crm_url(world), CRM.tables, run_id="run-3")

    assert [r.table for r in first] == [
        raw.CRM_CUSTOMERS.identifier_name,
        ops.SCHEMA_CHANGES.identifier_name,
    ]
    assert [r.table for r in again] == [raw.CRM_CUSTOMERS.identifier_name]
    assert again[0].skipped
    # Raw gains the new column and keeps the lost one, null from now on.
    schema = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name).schema()
    assert {"referral_code", "phone"} <= set(schema.column_names)
    changed = _raw(catalog).filter(pl.col("_batch_id") == first[0].batch_id)
    assert changed.select("customer_id", "referral_code", "phone").rows() == [
        (UPDATED[0], "REF1", None)
    ]
    drift = table_rows(catalog, ops.SCHEMA_CHANGES).sort("column_name")
    assert drift.select("table_name", "column_name", "change", "batch_id").rows() == [
        (raw.CRM_CUSTOMERS.identifier_name, "phone", "removed", first[0].batch_id),
        (raw.CRM_CUSTOMERS.identifier_name, "referral_code", "added", first[0].batch_id),
    ]


# --- Engines and the Prefect task ----------------------------------------------------------


def test_each_database_gets_one_engine_disposed_after(
    world: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    engines: list[Engine] = []
    disposed: list[Engine] = []

    def counting_connect(url: str) -> Engine:
        engine = connect(url)
        dispose = engine.dispose

        def tracked_dispose(close: bool = True) -> None:
            disposed.append(engine)
            dispose(close)

        monkeypatch.setattr(engine, "dispose", tracked_dispose)
        engines.append(engine)
        return engine

    monkeypatch.setattr(ingest_db, "connect", counting_connect)

    results = ingest_database.fn(world, "run-1", ORDERS.name)

    assert [r.table for r in results] == [t.raw.identifier_name for t in ORDERS.tables]
    assert len(engines) == 1
    assert disposed == engines
    assert engines[0].pool.checkedout() == 0
