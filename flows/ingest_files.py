"""File drops (the seed's S3 batch uploads and Glue crawler): every new file in the landing
zone lands once in its feed's raw table, or is moved to `quarantine/` with its reason.

One scan of a feed:
1. lists the feed's prefix and skips the keys `ops.ingest_ledger` says have landed;
2. reads each new file, hashes it (sha256) and parses it (`flows.file_formats`);
3. compares the file's columns with the feed's last landed file: a column added, removed,
   renamed or retyped goes to `ops.schema_changes`, and raw keeps the data either way;
4. appends the rows to the raw table, evolving it when new columns arrive: one commit per
   file, its batch id a digest of table, key and file checksum;
5. records every file it handled in the ledger (one commit per feed and scan), and only
   then moves the unparseable ones aside.
The ledger is the last write, so a crash anywhere before it leaves files that the next scan
parses again and whose commits the writer then skips: nothing lands twice, nothing is lost.
A key is taken once: a vendor's corrected file needs a new name (as `_resend` and
`_corrected` files have), except after a quarantine, when the same name is welcome again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.types import DoubleType, FloatType, IcebergType, IntegerType, LongType

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import ops, raw
from catalog.tables.definition import Column, TableDef
from catalog.writer import SchemaMismatchError, WriteResult, content_batch_id, write
from flows.file_formats import NULL_KIND, FileColumn, MalformedFileError, ParsedFile, parse_file
from simulator.emitters.landing import Landing, open_landing

LANDED, QUARANTINED = "landed", "quarantined"
QUARANTINE_PREFIX = "quarantine/"
# Snapshot-summary entries of a raw commit: the file it came from.
SOURCE_FILE = "c360.source-file"
FILE_CHECKSUM = "c360.file-checksum"
# Type changes Iceberg allows in place: (narrower, wider).
PROMOTIONS = {(IntegerType(), LongType()), (FloatType(), DoubleType())}
RESERVED_COLUMNS = frozenset(c.name for c in raw.FILE_COLUMNS)


@dataclass(frozen=True)
class LandingFeed:
    """A feed of files in the landing zone.

    Args:
        name: the feed's name in the ledger, e.g. `loyalty`.
        prefix: the landing keys that are its files, e.g. `loyalty/`.
        table: the raw table its rows land in (declared with its ingestion columns).
        source: the `_source` its rows carry.
    """

    name: str
    prefix: str
    table: TableDef
    source: str


VENDOR_FEEDS = {
    feed.name: feed
    for feed in (
        LandingFeed("loyalty", "loyalty/", raw.VENDOR_LOYALTY_MEMBERS, "vendor_files.loyalty"),
        LandingFeed("marketing", "marketing/", raw.VENDOR_MARKETING_LIST, "vendor_files.marketing"),
        LandingFeed("legacy", "legacy/", raw.VENDOR_LEGACY_CUSTOMERS, "vendor_files.legacy"),
        LandingFeed("products", "products/", raw.VENDOR_PRODUCT_FEED, "vendor_files.products"),
    )
}


@dataclass(frozen=True)
class SchemaColumn:
    """A column as a file carried it: its name, what it arrived as, the raw column holding it."""

    name: str
    kind: str
    raw_column: str


@dataclass(frozen=True)
class RawColumn:
    """Where a file's column lands: the raw column's name and type."""

    file_column: FileColumn
    name: str
    type: IcebergType


@dataclass(frozen=True)
class SchemaChange:
    """A difference between a file's columns and the feed's previous file's."""

    column: str
    change: str
    detail: str


@dataclass(frozen=True)
class LedgerEntry:
    """One row of `ops.ingest_ledger`: a file and what became of it."""

    landing_key: str
    file_size: int
    file_checksum: str
    feed: str
    status: str
    processed_at: datetime
    file_format: str | None = None
    reason: str | None = None
    quarantine_key: str | None = None
    raw_table: str | None = None
    rows: int | None = None
    batch_id: str | None = None
    file_schema: str | None = None
    file_header: str | None = None
    run_id: str | None = None

    def schema(self) -> list[SchemaColumn]:
        return [SchemaColumn(**c) for c in json.loads(self.file_schema or "[]")]


@dataclass
class FeedScan:
    """What one scan of a feed did: the files it handled, the drift it saw, its commits."""

    feed: str
    files: list[LedgerEntry] = field(default_factory=list)
    changes: list[tuple[str, SchemaChange]] = field(default_factory=list)
    writes: list[WriteResult] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)

    @property
    def landed(self) -> list[LedgerEntry]:
        return [f for f in self.files if f.status == LANDED]

    @property
    def quarantined(self) -> list[LedgerEntry]:
        return [f for f in self.files if f.status == QUARANTINED]

    def summary(self) -> str:
        rows = sum(f.rows or 0 for f in self.landed)
        text = f"{self.feed}: {len(self.landed)} file(s) landed ({rows:,} rows)"
        text += "".join(f"; quarantined {f.landing_key}: {f.reason}" for f in self.quarantined)
        text += "".join(f"; drift in {key}: {c.column} {c.change}" for key, c in self.changes)
        return text


def ingest_feed(catalog: Catalog, landing: Landing, feed: LandingFeed, *, run_id: str) -> FeedScan:
    """Land every file of `feed` not landed before; quarantine those that cannot be parsed.

    Raises:
        LandingUnavailableError: the landing zone cannot be read or written.
        CommitFailedException: concurrent writers kept winning after every retry.
    """
    ledger = read_ledger(catalog, feed.name)
    landed = {e.landing_key for e in ledger if e.status == LANDED}
    interrupted = {
        (e.landing_key, e.file_checksum): e.quarantine_key
        for e in ledger
        if e.status == QUARANTINED and e.quarantine_key
    }
    baseline = last_schema(ledger)
    scan = FeedScan(feed.name)
    to_move: list[tuple[str, str]] = []
    for key in landing.list(feed.prefix):
        if key in landed:
            continue
        try:
            data = landing.get(key)
        except FileNotFoundError:
            continue  # taken away since the listing: nothing arrived
        checksum = hashlib.sha256(data).hexdigest()
        if (key, checksum) in interrupted:
            # The ledger has it quarantined; the move did not happen (a crash): finish it.
            to_move.append((key, interrupted[key, checksum]))
            continue
        entry, writes, changes = land_file(
            catalog, feed, key, data, checksum=checksum, baseline=baseline, run_id=run_id
        )
        if entry.status == QUARANTINED:
            target = _quarantine_key(landing, key, checksum)
            entry = dataclasses.replace(entry, quarantine_key=target)
            to_move.append((key, target))
        elif entry.schema():
            baseline = entry.schema()
        scan.files.append(entry)
        scan.writes += writes
        scan.changes += [(key, change) for change in changes]
    if scan.files:
        scan.writes.append(write_ledger(catalog, scan.files, run_id=run_id))
    for key, target in to_move:
        landing.move(key, target)
        scan.moved.append(key)
    return scan


def land_file(
    catalog: Catalog,
    feed: LandingFeed,
    key: str,
    data: bytes,
    *,
    checksum: str,
    baseline: Sequence[SchemaColumn] | None,
    run_id: str,
) -> tuple[LedgerEntry, list[WriteResult], list[SchemaChange]]:
    """Parse one file and append its rows to the feed's raw table (once: the batch id is a
    digest of table, key and checksum); record any drift from `baseline`, the columns of
    the feed's previous file.

    Returns:
        The file's ledger entry (landed, or quarantined with the reason; moving it is the
        caller's job), the commits made, and the schema changes seen.
    """
    entry = LedgerEntry(
        landing_key=key,
        file_size=len(data),
        file_checksum=checksum,
        feed=feed.name,
        status=LANDED,
        processed_at=datetime.now(UTC),
        run_id=run_id,
    )
    try:
        parsed = parse_file(key, data)
        clash = sorted(RESERVED_COLUMNS & {c.name for c in parsed.columns})
        if clash:
            raise MalformedFileError(f"columns {clash} clash with c360's ingestion columns")
        batch_id = content_batch_id(feed.table.identifier_name, key, checksum)
        columns = resolve_kinds(parsed.columns, baseline)
        layout = raw_layout(ensure_table(catalog, feed.table), columns)
        result = write(
            catalog,
            _with_columns(feed.table, layout),
            _raw_frame(parsed, layout, feed, entry, batch_id),
            batch_id=batch_id,
            run_id=run_id,
            properties={SOURCE_FILE: key, FILE_CHECKSUM: checksum},
        )
    except (MalformedFileError, SchemaMismatchError) as exc:
        return dataclasses.replace(entry, status=QUARANTINED, reason=str(exc)), [], []
    schema = [SchemaColumn(c.file_column.name, c.file_column.kind, c.name) for c in layout]
    # A file without records (an empty JSON array) says nothing about the feed's columns.
    changes = detect_changes(baseline, schema) if parsed.columns else []
    writes = [result]
    if changes:
        writes.append(write_changes(catalog, feed.table, changes, batch_id, run_id=run_id))
    landed = dataclasses.replace(
        entry,
        file_format=parsed.file_format,
        raw_table=feed.table.identifier_name,
        rows=parsed.rows,
        batch_id=batch_id,
        file_schema=json.dumps([dataclasses.asdict(c) for c in schema]),
        file_header=json.dumps(parsed.header, ensure_ascii=False),
    )
    return landed, writes, changes


# --- Schema: what a file carried, where raw keeps it, what changed -------------------------


def resolve_kinds(
    columns: Sequence[FileColumn], baseline: Sequence[SchemaColumn] | None
) -> list[FileColumn]:
    """`columns`, an all-null column taking the kind it had in `baseline` (a column that is
    empty in one file has not changed type)."""
    before = {c.name: c.kind for c in baseline or ()}
    return [
        dataclasses.replace(c, kind=before[c.name])
        if c.kind == NULL_KIND and c.name in before
        else c
        for c in columns
    ]


def raw_layout(table: Table, columns: Sequence[FileColumn]) -> list[RawColumn]:
    """Where each file column lands in `table`: its own name and type, or the existing
    column's where that holds the values (an int into a long). A column whose type Iceberg
    can promote (int to long, float to double) is promoted; one retyped beyond that lands
    beside it, as `<name>__<type>`, so raw keeps the data either way."""
    existing = {f.name: f.field_type for f in table.schema().fields}
    layout = []
    for column in columns:
        have = existing.get(column.name)
        if have is None or have == column.type:
            layout.append(RawColumn(column, column.name, column.type))
        elif column.kind == NULL_KIND or (column.type, have) in PROMOTIONS:
            layout.append(RawColumn(column, column.name, have))
        elif (have, column.type) in PROMOTIONS:
            with table.update_schema() as update:
                update.update_column(column.name, field_type=column.type)
            layout.append(RawColumn(column, column.name, column.type))
        else:
            suffix = "".join(ch if ch.isalnum() else "_" for ch in str(column.type)).strip("_")
            layout.append(RawColumn(column, f"{column.name}__{suffix}", column.type))
    return layout


def detect_changes(
    before: Sequence[SchemaColumn] | None, after: Sequence[SchemaColumn]
) -> list[SchemaChange]:
    """The columns added, removed, renamed or retyped from one file of a feed to the next.

    A column that vanished and one that appeared at the same position with the same kind
    count as one rename. The feed's first file has nothing to differ from.
    """
    if not before:
        return []
    old = {c.name: (i, c.kind) for i, c in enumerate(before)}
    new = {c.name: (i, c.kind) for i, c in enumerate(after)}
    changes = []
    renamed_from = set()
    for name, (position, kind) in new.items():
        if name in old:
            was = old[name][1]
            if kind != was and NULL_KIND not in (kind, was):
                changes.append(SchemaChange(name, "retyped", f"{was} -> {kind}"))
            continue
        same_place = [
            o for o, (p, k) in old.items() if o not in new and p == position and k == kind
        ]
        if same_place:
            renamed_from.add(same_place[0])
            changes.append(SchemaChange(name, "renamed", f"{same_place[0]} -> {name}"))
        else:
            changes.append(SchemaChange(name, "added", kind))
    changes += [
        SchemaChange(name, "removed", kind)
        for name, (_, kind) in old.items()
        if name not in new and name not in renamed_from
    ]
    return changes


def _with_columns(table: TableDef, layout: Sequence[RawColumn]) -> TableDef:
    declared = set(table.column_names)
    extra = tuple(Column(c.name, c.type) for c in layout if c.name not in declared)
    return dataclasses.replace(table, columns=(*table.columns, *extra))


def _raw_frame(
    parsed: ParsedFile,
    layout: Sequence[RawColumn],
    feed: LandingFeed,
    entry: LedgerEntry,
    batch_id: str,
) -> pa.Table:
    n = parsed.rows
    columns = {c.name: parsed.data[c.file_column.name] for c in layout}
    positions = pa.array(range(1, n + 1), pa.int64())
    metadata = {
        "_source": pa.repeat(feed.source, n),
        "_batch_id": pa.repeat(batch_id, n),
        "_ingested_at": pa.repeat(pa.scalar(entry.processed_at, pa.timestamp("us", "UTC")), n),
        "_source_file": pa.repeat(entry.landing_key, n),
        "_source_position": pc.cast(positions, pa.string()),
        "_file_size": pa.repeat(pa.scalar(entry.file_size, pa.int64()), n),
        "_file_checksum": pa.repeat(entry.file_checksum, n),
    }
    return pa.table({**columns, **metadata})


# --- ops: the ledger and the schema changes -------------------------------------------------


def read_ledger(catalog: Catalog, feed: str) -> list[LedgerEntry]:
    """Every file of `feed` processed so far, in the order they were processed."""
    table = ensure_table(catalog, ops.INGEST_LEDGER)
    rows = pl.from_arrow(table.scan(row_filter=f"feed = '{feed}'").to_arrow())
    assert isinstance(rows, pl.DataFrame)
    names = {f.name for f in dataclasses.fields(LedgerEntry)}
    ordered = rows.sort("processed_at", "landing_key")
    return [LedgerEntry(**{k: v for k, v in r.items() if k in names}) for r in ordered.to_dicts()]


def last_schema(ledger: Sequence[LedgerEntry]) -> list[SchemaColumn] | None:
    """The columns of the feed's last landed file that had any."""
    for entry in reversed(ledger):
        if entry.status == LANDED and entry.schema():
            return entry.schema()
    return None


def write_ledger(catalog: Catalog, entries: Sequence[LedgerEntry], *, run_id: str) -> WriteResult:
    """Record `entries` in `ops.ingest_ledger` in one commit."""
    table = ops.INGEST_LEDGER
    frame = pl.DataFrame([dataclasses.asdict(e) for e in entries], infer_schema_length=None)
    parts = (f"{e.landing_key}@{e.file_checksum}" for e in entries)
    batch_id = content_batch_id(table.identifier_name, *parts)
    return write(catalog, table, frame, batch_id=batch_id, run_id=run_id)


def write_changes(
    catalog: Catalog,
    raw_table: TableDef,
    changes: Sequence[SchemaChange],
    batch_id: str,
    *,
    run_id: str,
) -> WriteResult:
    """Record the drift one raw batch brought in `ops.schema_changes`, once per batch."""
    n = len(changes)
    frame = pl.DataFrame(
        {
            "table_name": [raw_table.identifier_name] * n,
            "column_name": [c.column for c in changes],
            "change": [c.change for c in changes],
            "detail": [c.detail for c in changes],
            "detected_at": [datetime.now(UTC)] * n,
            "batch_id": [batch_id] * n,
        }
    )
    own_batch = content_batch_id(ops.SCHEMA_CHANGES.identifier_name, batch_id)
    return write(catalog, ops.SCHEMA_CHANGES, frame, batch_id=own_batch, run_id=run_id)


def _quarantine_key(landing: Landing, key: str, checksum: str) -> str:
    """`quarantine/<key>`, or, if a file already sits there, that name plus the checksum."""
    target = QUARANTINE_PREFIX + key
    if target in landing.list(target):
        path = PurePosixPath(target)
        target = str(path.with_name(f"{path.stem}.{checksum[:12]}{path.suffix}"))
    return target


# --- Prefect ---------------------------------------------------------------------------------


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE, task_run_name="ingest-{feed}")
def ingest_feed_task(settings: Settings, feed: str, run_id: str) -> list[WriteResult]:
    """Land the new files of one vendor feed."""
    scan = ingest_feed(
        open_catalog(settings), open_landing(settings), VENDOR_FEEDS[feed], run_id=run_id
    )
    get_run_logger().info(scan.summary())
    return scan.writes


@flow(name="ingest-files")
def ingest_files_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Land every vendor feed's new files in the raw zone."""
    writes: list[WriteResult] = []
    for feed in VENDOR_FEEDS:
        writes += ingest_feed_task(settings, feed, run_id)
    return writes
