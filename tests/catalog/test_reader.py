"""Reading what a table gained: the commits since a snapshot, the rows they added, and row
counts from metadata, on a real SQLite catalog."""

from __future__ import annotations

import datetime as dt

import pyarrow.compute as pc
from pyiceberg.catalog import Catalog

from catalog.maintenance.expiry import expire_snapshots
from catalog.reader import appended_since, column_max, equals, read_added, row_count
from catalog.registry import ensure_table
from catalog.tables import raw
from catalog.writer import write
from tests.catalog.sample_data import crm_customer_rows

RAW = raw.CRM_CUSTOMERS


def _append(catalog: Catalog, ids: list[str], batch: str) -> int:
    result = write(catalog, RAW, crm_customer_rows(ids, batch_id=batch), batch_id=batch, run_id="r")
    assert result.snapshot_id is not None
    return result.snapshot_id


def _ids(catalog: Catalog, snapshots: list[int], **options: object) -> list[str]:
    table = ensure_table(catalog, RAW)
    chain = [s for s in table.snapshots() if s.snapshot_id in snapshots]
    rows = read_added(table, chain, **options)  # type: ignore[arg-type]
    return sorted(rows["customer_id"])


def test_the_commits_since_a_snapshot_are_its_appends_oldest_first(catalog: Catalog) -> None:
    first = _append(catalog, ["c1", "c2"], "b1")
    second = _append(catalog, ["c3"], "b2")
    third = _append(catalog, ["c4", "c5"], "b3")
    table = ensure_table(catalog, RAW)

    since_first = appended_since(table, first)
    assert since_first is not None
    assert [s.snapshot_id for s in since_first] == [second, third]
    everything = appended_since(table, None)
    assert everything is not None
    assert [s.snapshot_id for s in everything] == [first, second, third]
    assert appended_since(table, third) == []
    assert appended_since(table, 12345) is None  # not in the table's history


def test_no_chain_since_creation_once_the_first_commits_are_expired(catalog: Catalog) -> None:
    first = _append(catalog, ["c1"], "b1")
    second = _append(catalog, ["c2"], "b2")
    table = ensure_table(catalog, RAW)
    expire_snapshots(table, older_than=dt.datetime.now(dt.UTC), keep_last=1)
    table = ensure_table(catalog, RAW)

    assert [s.snapshot_id for s in table.snapshots()] == [second]
    # The table still holds c1, which no snapshot left in its history added.
    assert appended_since(table, None) is None
    assert appended_since(table, first) is None
    assert appended_since(table, second) == []


def test_a_rewrite_since_the_snapshot_breaks_the_chain(catalog: Catalog) -> None:
    first = _append(catalog, ["c1"], "b1")
    write(
        catalog,
        RAW,
        crm_customer_rows(["c9"], batch_id="b2"),
        batch_id="b2",
        run_id="r",
        mode="overwrite",
    )
    later = _append(catalog, ["c3"], "b3")
    table = ensure_table(catalog, RAW)

    assert appended_since(table, first) is None
    assert appended_since(table, None) is None
    assert appended_since(table, later) == []


def test_the_rows_added_are_those_of_the_commits_asked_for(catalog: Catalog) -> None:
    first = _append(catalog, ["c1", "c2"], "b1")
    second = _append(catalog, ["c3"], "b2")
    third = _append(catalog, ["c4", "c5"], "b3")

    assert _ids(catalog, [second, third]) == ["c3", "c4", "c5"]
    assert _ids(catalog, [first]) == ["c1", "c2"]
    assert _ids(catalog, []) == []
    narrowed = _ids(
        catalog, [first, third], columns=("customer_id",), row_filter=equals("customer_id", "c5")
    )
    assert narrowed == ["c5"]
    table = ensure_table(catalog, RAW)
    only_keys = read_added(table, table.snapshots(), columns=("customer_id",))
    assert only_keys.columns == ["customer_id"]
    assert only_keys.height == table.scan().to_arrow().num_rows == 5


def test_row_counts_come_from_metadata_and_match_a_scan(catalog: Catalog) -> None:
    table = ensure_table(catalog, RAW)
    assert row_count(table) == 0
    first = _append(catalog, ["c1", "c2"], "b1")
    _append(catalog, ["c3"], "b2")
    table = ensure_table(catalog, RAW)

    assert row_count(table) == table.scan().to_arrow().num_rows == 3
    first_snapshot = table.snapshot_by_id(first)
    assert first_snapshot is not None
    assert row_count(table, first_snapshot) == 2


def test_a_column_maximum_from_file_bounds_equals_the_maximum_of_a_scan(
    catalog: Catalog,
) -> None:
    table = ensure_table(catalog, RAW)
    assert column_max(table, "_ingested_at") is None
    late = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    early = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    batches = ((["c1", "c2"], "b1", early), (["c3"], "b2", late), (["c4"], "b3", early))
    for ids, batch, at in batches:
        rows = crm_customer_rows(ids, batch_id=batch, ingested_at=at)
        write(catalog, RAW, rows, batch_id=batch, run_id="r")
    table = ensure_table(catalog, RAW)

    def scanned(column: str) -> object:
        return pc.max(table.scan().to_arrow()[column]).as_py()

    # Timestamps, numbers and dates from the bounds; text (bounds may be truncated) and a
    # column of only nulls (no bounds) still give a scan's answer.
    for column in ("_ingested_at", "lifetime_value", "signup_date", "customer_id", "phone"):
        assert column_max(table, column) == scanned(column), column
    assert column_max(table, "_ingested_at") == late
    assert column_max(table, "phone") is None
