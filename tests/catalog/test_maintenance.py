"""Table maintenance on real catalogs (SQLite, PostgreSQL, an S3 warehouse): every retained
snapshot reads as before, no unreferenced file is left, compaction keeps every row, and
staging still resumes where it stopped."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import ValidationException
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.table import Table

from c360.settings import MaintenanceSettings, Settings
from catalog import maintenance
from catalog.contracts import load_contracts
from catalog.factory import open_catalog
from catalog.maintenance import (
    COMPACT,
    MAINTENANCE,
    OrphanListingError,
    maintain,
    maintain_table,
    plan_compaction,
    referenced_files,
    remove_orphan_files,
    rewrite_files,
)
from catalog.tables import raw
from catalog.writer import BATCH_ID, WriteResult, fit_to_schema, write
from flows import stage
from flows.ingest_db import WATERMARK
from flows.stage import STAGED, StageOutcome, consumed_snapshot, stage_table
from tests.catalog.sample_data import crm_customer_rows

DAYS = [dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, 12, tzinfo=dt.UTC)]
# Everything older than now goes, but the two newest snapshots of a table; every file that
# is not referenced is deleted at once; four small files are enough to compact.
NOW_OPTIONS = MaintenanceSettings(
    snapshot_retention_days=0,
    keep_last_snapshots=2,
    orphan_grace_minutes=0,
    compact_min_files=4,
    compact_target_mb=1,
)
RAW = raw.CRM_CUSTOMERS.identifier_name


def _append(catalog: Catalog, batch: int, **properties: str) -> WriteResult:
    """Five new customers in batch `b<batch>`, on one of two ingestion days (partitions)."""
    rows = crm_customer_rows(
        [f"c{batch:02}-{k}" for k in range(5)],
        batch_id=f"b{batch}",
        ingested_at=DAYS[batch % 2],
    )
    return write(
        catalog, raw.CRM_CUSTOMERS, rows, batch_id=f"b{batch}", run_id="r", properties=properties
    )


def _stage(catalog: Catalog, run_id: str) -> StageOutcome:
    staged = STAGED["crm_customers"]
    return stage_table(catalog, staged, load_contracts()[staged.feed], run_id=run_id)


def _rows(table: Table, snapshot_id: int | None = None) -> list[dict[str, object]]:
    """Every column of every row at a snapshot, trace columns included, in key order."""
    return table.scan(snapshot_id=snapshot_id).to_arrow().sort_by("customer_id").to_pylist()


def _digest(rows: list[dict[str, object]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _leave_orphans(table: Table) -> list[str]:
    """What failed writes leave under a table: the data file of an append whose commit
    failed, and a metadata file no commit made current. Returns their locations."""
    frame = fit_to_schema(
        crm_customer_rows(["lost"], batch_id="lost", ingested_at=DAYS[0]),
        table.schema(),
        table.name()[-1],
    )
    (lost,) = _dataframe_to_data_files(table.metadata, frame, table.io)
    stray = f"{table.location()}/metadata/99999-{uuid.uuid4()}.metadata.json"
    with table.io.new_output(stray).create() as out:
        out.write(table.io.new_input(table.metadata_location).open().read())
    return [lost.file_path, stray]


def _listing(settings: Settings, location: str) -> set[str]:
    """Every file under a table's `location`, as a URI, listed without pyiceberg or pyarrow."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return {f"file://{p}" for p in Path(parsed.path).rglob("*") if p.is_file()}
    s3 = settings.resolved_catalog().s3
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        region_name=s3.region,
    )
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=parsed.netloc, Prefix=parsed.path.lstrip("/") + "/"
    )
    # (SeaweedFS lists its directories too, as keys ending in a slash.)
    return {
        f"s3://{parsed.netloc}/{o['Key']}"
        for page in pages
        for o in page.get("Contents", [])
        if not o["Key"].endswith("/")
    }


def test_the_source_snapshot_key_is_the_one_staging_writes() -> None:
    assert maintenance.SOURCE_SNAPSHOT == stage.SOURCE_SNAPSHOT


def test_maintenance_keeps_every_retained_snapshot_and_no_unreferenced_file(
    backend_settings: Settings,
) -> None:
    catalog = open_catalog(backend_settings)
    for batch in range(4):
        _append(catalog, batch)
    assert _stage(catalog, "stage-1").batches == 4
    consumed = consumed_snapshot(catalog.load_table("staging.crm_customers"))
    for batch in range(4, 8):
        _append(catalog, batch)
    table = catalog.load_table(RAW)
    history = [s.snapshot_id for s in table.snapshots()]
    assert consumed == history[3]
    before = {snapshot_id: _rows(table, snapshot_id) for snapshot_id in history}
    partitions = {task.file.partition for task in table.scan().plan_files()}
    orphans = _leave_orphans(table)

    reports = {r.table: r for r in maintain(catalog, NOW_OPTIONS)}

    table = catalog.load_table(RAW)
    report = reports[RAW]
    # Compaction: one file per partition, the same rows, marked, with no batch of its own.
    current = table.current_snapshot()
    assert current is not None
    assert current.summary is not None
    assert current.parent_snapshot_id == history[-1]
    assert current.summary[MAINTENANCE] == COMPACT
    assert BATCH_ID not in current.summary.additional_properties
    files = [task.file for task in table.scan().plan_files()]
    assert (report.files_before, report.files_after, len(files)) == (8, 2, 2)
    assert {f.partition for f in files} == partitions
    assert _digest(_rows(table)) == _digest(before[history[-1]])
    # Expiry: older than the consumed raw snapshot goes; it and everything after it stay.
    assert [s.snapshot_id for s in table.snapshots()] == [*history[3:], current.snapshot_id]
    assert report.snapshots_expired == 3
    # Every retained snapshot (time travel to before compaction too) reads as it did.
    for snapshot_id in history[3:]:
        assert _rows(table, snapshot_id) == before[snapshot_id]
    # The files under the table are exactly those its metadata names.
    listed = _listing(backend_settings, table.location())
    assert listed == referenced_files(table)
    assert not listed & set(orphans)
    # The orphans, and the three expired snapshots' manifest lists.
    assert report.files_removed == 5
    assert report.bytes_freed > 0

    # Staging resumes after the raw snapshot it consumed: no rebuild, no duplicate.
    _append(catalog, 8)
    outcome = _stage(catalog, "stage-2")
    assert (outcome.status, outcome.batches, outcome.raw_rows) == ("staged", 5, 25)
    staged = catalog.load_table("staging.crm_customers").scan().to_arrow()
    assert sorted(staged["customer_id"].to_pylist()) == sorted(
        f"c{b:02}-{k}" for b in range(9) for k in range(5)
    )


def test_orphan_files_younger_than_the_grace_period_stay(settings: Settings) -> None:
    catalog = open_catalog(settings)
    _append(catalog, 0)
    table = catalog.load_table(RAW)
    orphans = _leave_orphans(table)
    now = dt.datetime.now(dt.UTC)

    within_grace = remove_orphan_files(table, older_than=now - dt.timedelta(minutes=60))
    dry_run = remove_orphan_files(table, older_than=now, dry_run=True)
    files = _listing(settings, table.location())
    removed = remove_orphan_files(table, older_than=now)

    assert within_grace.files == ()
    assert files > set(orphans)
    assert (
        sorted(dry_run.files) == sorted(removed.files) == sorted(urlparse(o).path for o in orphans)
    )
    assert _listing(settings, table.location()) == referenced_files(table)
    assert len(_rows(table)) == 5


def test_a_table_under_the_thresholds_is_left_alone(settings: Settings) -> None:
    catalog = open_catalog(settings)
    for batch in range(3):
        _append(catalog, batch)
    table = catalog.load_table(RAW)
    history = [s.snapshot_id for s in table.snapshots()]
    orphans = _leave_orphans(table)
    options = NOW_OPTIONS.model_copy(update={"keep_last_snapshots": 3, "orphan_grace_minutes": 60})

    report = maintain_table(table, options)

    assert (report.snapshots_expired, report.files_removed) == (0, 0)
    assert (report.files_before, report.files_after) == (3, 3)
    assert [s.snapshot_id for s in table.snapshots()] == history
    assert _listing(settings, table.location()) >= set(orphans)


def test_compaction_racing_an_append_keeps_its_rows_and_carries_its_checkpoints(
    settings: Settings,
) -> None:
    catalog = open_catalog(settings)
    for batch in range(4):
        _append(catalog, batch, **{WATERMARK: f"w{batch}"})
    table = catalog.load_table(RAW)
    bins = plan_compaction(
        list(table.scan().plan_files()), spec_id=0, target_bytes=2**20, min_files=4
    )
    # Another process appends (the stream consumer, say) while the compaction is under way:
    # pyiceberg rebuilds the compaction on top of it.
    appended = _append(open_catalog(settings), 4, **{WATERMARK: "w4"})

    assert rewrite_files(table, bins) == 2

    table = catalog.load_table(RAW)
    current = table.current_snapshot()
    assert current is not None
    assert current.summary is not None
    assert current.parent_snapshot_id == appended.snapshot_id
    assert current.summary[WATERMARK] == "w4"
    assert current.summary[MAINTENANCE] == COMPACT
    assert BATCH_ID not in current.summary.additional_properties
    assert _rows(table) == _rows(table, appended.snapshot_id)
    assert len(list(table.scan().plan_files())) == 3


def test_compaction_losing_to_a_concurrent_delete_changes_nothing(settings: Settings) -> None:
    catalog = open_catalog(settings)
    for batch in range(4):
        _append(catalog, batch)
    table = catalog.load_table(RAW)
    bins = plan_compaction(
        list(table.scan().plan_files()), spec_id=0, target_bytes=2**20, min_files=4
    )
    # Another process deletes the rows of one file being compacted.
    open_catalog(settings).load_table(RAW).delete("_batch_id == 'b0'")

    with pytest.raises(ValidationException):
        rewrite_files(table, bins)

    table = catalog.load_table(RAW)
    assert len(table.snapshots()) == 5
    assert len(_rows(table)) == 15
    # The files written for the compaction were deleted with it.
    assert _listing(settings, table.location()) == referenced_files(table)


def test_a_table_inside_another_tables_location_stops_maintenance(settings: Settings) -> None:
    catalog = open_catalog(settings)
    _append(catalog, 0)
    outer = catalog.load_table(RAW)
    catalog.create_table("raw.nested", schema=outer.schema(), location=f"{outer.location()}/nested")
    files = _listing(settings, outer.location())

    with pytest.raises(OrphanListingError, match=r"raw\.nested lives inside the location of"):
        maintain(catalog, NOW_OPTIONS)

    assert _listing(settings, outer.location()) == files
