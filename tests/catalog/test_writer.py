"""The writer: fitting frames to table schemas, once-per-batch commits, concurrent appends."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from c360.settings import Settings, load_settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import raw, staging
from catalog.writer import (
    BATCH_ID,
    ROWS,
    RUN_ID,
    SchemaMismatchError,
    WriteResult,
    committed_batch,
    fit_to_schema,
    write,
)
from tests.catalog.sample_data import INGESTED_AT, crm_customer_rows

RAW = raw.CRM_CUSTOMERS
RAW_NAME = RAW.identifier_name
UTC = dt.UTC


def _required_only(n: int = 2) -> dict[str, list[object]]:
    return {
        "customer_id": [f"c{i}" for i in range(n)],
        "_cdc_operation": ["insert"] * n,
        "_ingested_at": [INGESTED_AT] * n,
        "_source": ["crm.customers"] * n,
        "_batch_id": ["b1"] * n,
    }


def _table_rows(catalog: Catalog) -> list[dict[str, object]]:
    table = catalog.load_table(RAW_NAME)
    return table.scan().to_arrow().sort_by("customer_id").to_pylist()


# --- fit_to_schema ----------------------------------------------------------------------------


def test_fit_reorders_columns_to_the_table_order() -> None:
    rows = crm_customer_rows(["c1", "c2"], batch_id="b1")
    shuffled = rows.select(list(reversed(rows.column_names)))

    fitted = fit_to_schema(shuffled, RAW.schema(), RAW_NAME)

    assert fitted.schema == RAW.schema().as_arrow()
    assert fitted.to_pylist() == rows.to_pylist()


def test_fit_fills_missing_optional_columns_with_nulls() -> None:
    fitted = fit_to_schema(pa.table(_required_only(3)), RAW.schema(), RAW_NAME)

    assert fitted.column_names == RAW.column_names
    assert fitted.num_rows == 3
    for name in ("first_name", "email", "signup_date", "lifetime_value", "updated_at"):
        assert fitted[name].null_count == 3
    assert fitted["customer_id"].to_pylist() == ["c0", "c1", "c2"]


def test_fit_takes_naive_timestamps_as_utc() -> None:
    data = _required_only(1) | {"_ingested_at": [dt.datetime(2024, 5, 1, 12, 30)]}

    fitted = fit_to_schema(pa.table(data), RAW.schema(), RAW_NAME)

    assert fitted["_ingested_at"].type == pa.timestamp("us", tz="UTC")
    assert fitted["_ingested_at"].to_pylist() == [dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)]


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin"])
def test_fit_truncates_nanosecond_timestamps_to_utc_microseconds(tz: str | None) -> None:
    # 2024-05-01T12:30:00.123456789 UTC, as pandas would hand it over.
    nanos = 1_714_566_600_123_456_789
    data = _required_only(1) | {"_ingested_at": pa.array([nanos], pa.timestamp("ns", tz=tz))}

    fitted = fit_to_schema(pa.table(data), RAW.schema(), RAW_NAME)

    assert fitted["_ingested_at"].type == pa.timestamp("us", tz="UTC")
    assert fitted["_ingested_at"].to_pylist() == [
        dt.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=UTC)
    ]


def test_fit_accepts_a_polars_frame() -> None:
    rows = crm_customer_rows(["c1", "c2"], batch_id="b1")
    frame = pl.from_arrow(rows)
    assert isinstance(frame, pl.DataFrame)
    # Polars' own types: string views, naive datetimes, columns in another order.
    frame = frame.with_columns(pl.col("_ingested_at").dt.replace_time_zone(None)).select(
        sorted(frame.columns)
    )

    fitted = fit_to_schema(frame, RAW.schema(), RAW_NAME)

    assert fitted.schema == RAW.schema().as_arrow()
    assert fitted.to_pylist() == rows.to_pylist()


def test_fit_refuses_a_column_unknown_to_the_table() -> None:
    data = pa.table(_required_only() | {"loyalty_tier": ["gold", "silver"]})

    with pytest.raises(SchemaMismatchError, match=r"raw\.crm_customers.*loyalty_tier"):
        fit_to_schema(data, RAW.schema(), RAW_NAME)


def test_fit_refuses_nulls_in_a_required_column() -> None:
    data = pa.table(_required_only() | {"_cdc_operation": ["insert", None]})

    with pytest.raises(SchemaMismatchError, match=r"raw\.crm_customers.*'_cdc_operation'.*1 null"):
        fit_to_schema(data, RAW.schema(), RAW_NAME)


def test_fit_refuses_a_missing_required_column() -> None:
    data = _required_only()
    del data["_batch_id"]

    with pytest.raises(SchemaMismatchError, match=r"raw\.crm_customers.*'_batch_id' missing"):
        fit_to_schema(pa.table(data), RAW.schema(), RAW_NAME)


def test_fit_refuses_a_value_that_cannot_be_cast() -> None:
    data = pa.table(_required_only() | {"lifetime_value": ["12.5", "lots"]})

    with pytest.raises(SchemaMismatchError, match=r"raw\.crm_customers.*'lifetime_value'"):
        fit_to_schema(data, RAW.schema(), RAW_NAME)


# --- one commit per batch -------------------------------------------------------------------


def test_same_batch_appended_twice_is_written_once(catalog: Catalog) -> None:
    rows = crm_customer_rows(["c1", "c2", "c3"], batch_id="b1")

    first = write(catalog, RAW, rows, batch_id="b1", run_id="r1")
    second = write(catalog, RAW, rows, batch_id="b1", run_id="r2")

    assert first == WriteResult(RAW_NAME, "b1", 3, first.snapshot_id, skipped=False)
    assert second == WriteResult(RAW_NAME, "b1", 0, first.snapshot_id, skipped=True)
    assert _table_rows(catalog) == rows.to_pylist()
    assert len(catalog.load_table(RAW_NAME).snapshots()) == 1


# pyiceberg warns when an overwrite finds nothing to delete (the first one, on an empty table).
@pytest.mark.filterwarnings("ignore:Delete operation did not match any records")
def test_same_batch_overwritten_twice_is_written_once(catalog: Catalog) -> None:
    older = crm_customer_rows(["c1", "c2"], batch_id="b1")
    newer = crm_customer_rows(["c3"], batch_id="b2")

    write(catalog, RAW, older, batch_id="b1", run_id="r1", mode="overwrite")
    again = write(catalog, RAW, older, batch_id="b1", run_id="r1", mode="overwrite")
    assert again.skipped
    assert _table_rows(catalog) == older.to_pylist()

    write(catalog, RAW, newer, batch_id="b2", run_id="r2", mode="overwrite")
    assert _table_rows(catalog) == newer.to_pylist()
    # Re-running the older step finds its batch in the history: it does not roll back b2.
    assert write(catalog, RAW, older, batch_id="b1", run_id="r3", mode="overwrite").skipped
    assert _table_rows(catalog) == newer.to_pylist()


def test_overwrite_filter_replaces_only_matching_rows(catalog: Catalog) -> None:
    write(catalog, RAW, crm_customer_rows(["c1", "c2"], batch_id="b1"), batch_id="b1", run_id="r")
    replacement = crm_customer_rows(["c2"], batch_id="b2")

    write(
        catalog,
        RAW,
        replacement,
        batch_id="b2",
        run_id="r",
        mode="overwrite",
        overwrite_filter=EqualTo("customer_id", "c2"),
    )

    assert [(r["customer_id"], r["_batch_id"]) for r in _table_rows(catalog)] == [
        ("c1", "b1"),
        ("c2", "b2"),
    ]


def test_snapshot_summary_records_batch_run_and_properties(catalog: Catalog) -> None:
    rows = crm_customer_rows(["c1", "c2"], batch_id="b7")

    result = write(
        catalog, RAW, rows, batch_id="b7", run_id="run-42", properties={"c360.crm-lsn": "991"}
    )

    snapshot = catalog.load_table(RAW_NAME).current_snapshot()
    assert snapshot is not None
    assert snapshot.snapshot_id == result.snapshot_id
    assert snapshot.summary is not None
    assert snapshot.summary[BATCH_ID] == "b7"
    assert snapshot.summary[RUN_ID] == "run-42"
    assert snapshot.summary[ROWS] == "2"
    assert snapshot.summary["c360.crm-lsn"] == "991"


def test_snapshots_from_other_writers_do_not_hide_a_batch(catalog: Catalog) -> None:
    write(catalog, RAW, crm_customer_rows(["c1"], batch_id="b1"), batch_id="b1", run_id="r")
    # Another tool appends with plain pyiceberg: its snapshot has no c360 batch id.
    table = catalog.load_table(RAW_NAME)
    table.append(fit_to_schema(crm_customer_rows(["c2"], batch_id="x"), table.schema(), RAW_NAME))

    assert committed_batch(catalog.load_table(RAW_NAME), "b1") is not None
    assert committed_batch(catalog.load_table(RAW_NAME), "b2") is None
    assert write(
        catalog, RAW, crm_customer_rows(["c1"], batch_id="b1"), batch_id="b1", run_id="r"
    ).skipped
    assert [r["customer_id"] for r in _table_rows(catalog)] == ["c1", "c2"]


def test_empty_append_commits_nothing(catalog: Catalog) -> None:
    empty = pa.table(
        {"customer_id": pa.array([], pa.string()), "updated_at": pa.array([], pa.timestamp("us"))}
    )

    result = write(catalog, staging.CRM_CUSTOMERS, empty, batch_id="b0", run_id="r")

    assert result == WriteResult("staging.crm_customers", "b0", 0, None)
    assert catalog.load_table("staging.crm_customers").snapshots() == []


# --- concurrent writers -----------------------------------------------------------------------

WRITERS = 2
BATCHES_PER_WRITER = 10
ROWS_PER_BATCH = 5


def _append_batches(
    home: str, writer: int, start: Barrier, results: Queue[tuple[int, object]]
) -> None:
    """One writer process: open the shared catalog, wait for the others, append its batches."""
    try:
        os.chdir(home)  # read no `.env` from the repo
        catalog = open_catalog(load_settings(home=Path(home)))
        start.wait(timeout=60)
        written = []
        for batch in range(BATCHES_PER_WRITER):
            batch_id = f"w{writer}-b{batch:02}"
            ids = [f"{batch_id}-c{row}" for row in range(ROWS_PER_BATCH)]
            rows = crm_customer_rows(ids, batch_id=batch_id)
            result = write(catalog, RAW, rows, batch_id=batch_id, run_id=f"writer-{writer}")
            written.append((result.batch_id, result.rows, result.skipped))
        results.put((writer, written))
    except BaseException as exc:
        results.put((writer, repr(exc)))
        raise


def test_two_processes_appending_at_once_lose_and_duplicate_nothing(
    settings: Settings, catalog: Catalog
) -> None:
    ensure_table(catalog, RAW)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    results = context.Queue()
    processes = [
        context.Process(target=_append_batches, args=(str(settings.home), w, start, results))
        for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = dict(results.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(isinstance(o, list) for o in outcomes.values()), outcomes
    assert [p.exitcode for p in processes] == [0] * WRITERS

    expected_batches = {f"w{w}-b{b:02}" for w in range(WRITERS) for b in range(BATCHES_PER_WRITER)}
    reported = [entry for written in outcomes.values() for entry in written]
    assert sorted(reported) == sorted((b, ROWS_PER_BATCH, False) for b in expected_batches)

    table = catalog.load_table(RAW_NAME)
    data = table.scan().to_arrow()
    ids = data["customer_id"].to_pylist()
    assert len(ids) == WRITERS * BATCHES_PER_WRITER * ROWS_PER_BATCH
    assert set(ids) == {f"{b}-c{r}" for b in expected_batches for r in range(ROWS_PER_BATCH)}
    assert len(set(ids)) == len(ids)
    assert set(data["_batch_id"].to_pylist()) == expected_batches
    # Each batch is exactly one snapshot in the history.
    committed = [s.summary[BATCH_ID] for s in table.snapshots() if s.summary is not None]
    assert len(committed) == len(expected_batches)
    assert set(committed) == expected_batches
