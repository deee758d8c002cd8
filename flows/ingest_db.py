"""Database ingestion (the seed's DMS replication): a full load, then change capture from the
CRM and orders databases into their raw tables, by the same code on SQLite, MySQL/MariaDB and
PostgreSQL.

Each capture of a table diffs the source against what its raw table already holds:
- Changed rows: those with `updated_at >= watermark - overlap`, minus the versions (same key
  and `updated_at`) raw already has. Re-reading the overlap duplicates nothing, and still
  catches a row that committed after the watermark passed the time it carries (clock skew,
  long transactions). The watermark (the newest `updated_at` captured) is committed in the
  raw table's snapshot summary, atomically with the rows.
- New keys: the source's key set minus raw's live keys, fetched by key when the overlap did
  not bring them. For a table without `updated_at` this is the whole strategy: order items are
  written once and never changed, so a new key is the only change they have. Elsewhere it
  catches inserts that committed later than any overlap.
- Deletes: raw's live keys the source no longer has. Each gets a `delete` row holding the key
  and the capture time: the source says neither when nor what was deleted.
- Schema drift: a column the source gained is added to the raw table and recorded in
  `ops.schema_changes`, as is a column it lost (raw keeps that one; new rows hold null).

A table's changes, inserts and deletes land in one commit whose batch id is derived from the
raw snapshot they were diffed against, so two runs from the same state commit once. Each row
carries `_cdc_operation`, `_source_committed_at` (its `updated_at`; null for deletes and for
tables without one), `_ingested_at`, `_source` and `_batch_id`. A run opens one engine per
source database and disposes of it when done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import polars as pl
import sqlalchemy as sa
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestamptzType,
)
from sqlalchemy.engine import Engine

from c360.settings import Settings, SourceSettings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import ops, raw
from catalog.tables.definition import Column, TableDef
from catalog.writer import WriteResult, content_batch_id, write
from simulator.emitters.database import connect
from simulator.sources import crm, orders

WATERMARK = "c360.watermark"
DEFAULT_OVERLAP = timedelta(minutes=SourceSettings().capture_overlap_minutes)
INSERT, UPDATE, DELETE = "insert", "update", "delete"
# Keys per `IN (...)` query: under every backend's bound-parameter limit (SQLite's is 32766).
KEYS_PER_QUERY = 5_000
# Above this share of the table, new keys are found by reading it whole instead of by key.
READ_WHOLE_SHARE = 0.25
# String keys per row when the source joins them (`read_source_keys`): a few MB,
# under MariaDB's default 16 MB max_allowed_packet.
KEYS_PER_STRING = 200_000
KEY_SEPARATOR = ","  # group_concat's own on MySQL, MariaDB and SQLite
CAPTURE_COLUMNS = frozenset(c.name for c in raw.CDC_COLUMNS)
UTC_US = pl.Datetime("us", "UTC")

SchemaChangeKind = Literal["added", "removed"]


class SourceTableMissingError(RuntimeError):
    """A replicated table is not in its source database; the message says which."""


@dataclass(frozen=True)
class ReplicatedTable:
    """A source table and the raw table it is replicated into.

    Args:
        dataset: the source's name for it (`crm.customers`): `_source` and the manifest's.
        name: the table's name in the source database.
        key: its primary key column.
        raw: the raw table it lands in.
        updated_at: the column the source stamps each change with; None when it has none.
    """

    dataset: str
    name: str
    key: str
    raw: TableDef
    updated_at: str | None = "updated_at"


@dataclass(frozen=True)
class SourceDatabase:
    """A source database: where it is and the tables replicated from it."""

    name: str
    url: Callable[[SourceSettings], str | None]
    tables: tuple[ReplicatedTable, ...]


@dataclass(frozen=True)
class SchemaChange:
    """A column a source table gained or lost relative to its raw table's definition."""

    column: str
    change: SchemaChangeKind
    type: IcebergType | None = None  # an added column's raw type


def _orders_table(
    source: sa.Table, definition: TableDef, *, stamped: bool = True
) -> ReplicatedTable:
    (key,) = source.primary_key.columns
    return ReplicatedTable(
        dataset=f"{orders.NAME}.{source.name}",
        name=source.name,
        key=str(key.name),
        raw=definition,
        updated_at="updated_at" if stamped else None,
    )


CRM = SourceDatabase(
    name=crm.NAME,
    url=lambda sources: sources.crm_url,
    tables=(ReplicatedTable(crm.DATASET, crm.CUSTOMERS.name, "customer_id", raw.CRM_CUSTOMERS),),
)
ORDERS = SourceDatabase(
    name=orders.NAME,
    url=lambda sources: sources.orders_url,
    tables=(
        _orders_table(orders.PRODUCTS, raw.ORDERS_PRODUCTS),
        _orders_table(orders.ORDERS, raw.ORDERS_ORDERS),
        _orders_table(orders.ORDER_ITEMS, raw.ORDERS_ORDER_ITEMS, stamped=False),
        _orders_table(orders.PAYMENTS, raw.ORDERS_PAYMENTS),
    ),
)
DATABASES: dict[str, SourceDatabase] = {db.name: db for db in (CRM, ORDERS)}


# --- Plain functions ---------------------------------------------------------------------


def capture_database(
    catalog: Catalog,
    url: str,
    tables: Sequence[ReplicatedTable],
    *,
    run_id: str,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> list[WriteResult]:
    """Capture every table of one source database through one engine, disposed after.

    Returns:
        Each table's data commit, then any `ops.schema_changes` commit it made.

    Raises:
        SourceUnavailableError: the database does not answer.
        SourceTableMissingError: a table is not in it.
    """
    engine = connect(url)
    try:
        return [
            result
            for table in tables
            for result in capture_changes(catalog, engine, table, run_id=run_id, overlap=overlap)
        ]
    finally:
        engine.dispose()


def capture_changes(
    catalog: Catalog,
    engine: Engine,
    table: ReplicatedTable,
    *,
    run_id: str,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
) -> list[WriteResult]:
    """Append what changed in one source table since the last capture to its raw table.

    The first capture is a full load (every row an insert); later ones add changed and new
    rows and a delete row per vanished key (see the module docstring).

    Args:
        catalog: the lakehouse catalog.
        engine: the source database.
        table: what to capture and where it lands.
        run_id: the pipeline run, recorded in the snapshot summary.
        overlap: how far before the watermark changed rows are re-read.
        now: the capture time (`_ingested_at`); the clock's when None.

    Returns:
        The data commit (skipped, with no rows, when nothing changed), then the
        `ops.schema_changes` commit when the source's columns changed.

    Raises:
        SourceTableMissingError: the table is not in the source database.
    """
    captured_at = now or datetime.now(UTC)
    raw_table = ensure_table(catalog, table.raw)
    base = raw_table.current_snapshot()
    batch_id = content_batch_id(table.dataset, str(base.snapshot_id) if base else "empty")
    results = []
    with engine.connect() as conn:
        live = _reflect(conn, table.name)
        changes = schema_changes(table.raw, live)
        if changes:
            recorded = record_schema_changes(
                catalog,
                table.raw,
                changes,
                batch_id=batch_id,
                detected_at=captured_at,
                run_id=run_id,
            )
            if recorded is not None:
                results.append(recorded)
        definition = evolved(table.raw, changes)
        raw_table = ensure_table(catalog, definition)
        watermark = last_watermark(raw_table)
        query = rows_query(live, definition)
        if base is None:  # the full load
            rows, known = _read(conn, query), pl.Series(table.key, [], pl.String)
            deleted = known
        else:
            rows, known, deleted = _diff(conn, query, live, raw_table, table, watermark, overlap)
    batch = cdc_batch(rows, known, deleted, table, batch_id=batch_id, captured_at=captured_at)
    if batch.is_empty():
        return [WriteResult(table.raw.identifier_name, batch_id, 0, None, skipped=True), *results]
    properties = {}
    if table.updated_at is not None:
        newest = _newest(watermark, rows[table.updated_at])
        if newest is not None:
            properties[WATERMARK] = newest.isoformat()
    data = write(
        catalog, definition, batch, batch_id=batch_id, run_id=run_id, properties=properties
    )
    return [data, *results]


def _diff(
    conn: sa.Connection,
    query: sa.Select[Any],
    live: sa.Table,
    raw_table: Table,
    table: ReplicatedTable,
    watermark: datetime | None,
    overlap: timedelta,
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """The source rows raw lacks, raw's live keys, and the live keys the source lost."""
    key = table.key
    rows = _empty_rows(live)
    if table.updated_at is not None:
        since = None if watermark is None else watermark - overlap
        window = _read(conn, _changed_since(query, live.c[table.updated_at], since))
        if not window.is_empty():
            captured = captured_versions(raw_table, key, table.updated_at, since)
            rows = new_versions(window, captured, key, table.updated_at)
    source_keys = read_source_keys(conn, live.c[key])
    known = live_keys(raw_table, key)
    seen = pl.concat([known, rows[key].cast(pl.String)])
    unseen = source_keys.filter(~source_keys.is_in(seen.implode()))
    if not unseen.is_empty():
        rows = pl.concat(
            [rows, _read_keys(conn, query, live.c[key], unseen, source_keys.len())],
            how="diagonal_relaxed",
        )
    deleted = known.filter(~known.is_in(source_keys.implode())).sort()
    return rows, known, deleted


def cdc_batch(
    rows: pl.DataFrame,
    known: pl.Series,
    deleted: pl.Series,
    table: ReplicatedTable,
    *,
    batch_id: str,
    captured_at: datetime,
) -> pl.DataFrame:
    """Source rows and deleted keys as raw rows, with how and when each was captured.

    Args:
        rows: captured source rows; a key raw already holds live (`known`) is an update.
        known: the keys live in raw before this capture.
        deleted: keys the source no longer has.
    """
    committed_at = pl.col(table.updated_at) if table.updated_at else pl.lit(None, UTC_US)
    changes = rows.with_columns(
        _cdc_operation=pl.when(pl.col(table.key).is_in(known.implode()))
        .then(pl.lit(UPDATE))
        .otherwise(pl.lit(INSERT)),
        _source_committed_at=committed_at.cast(UTC_US),
    )
    deletes = pl.DataFrame({table.key: deleted.cast(pl.String)}).with_columns(
        _cdc_operation=pl.lit(DELETE), _source_committed_at=pl.lit(None, UTC_US)
    )
    return pl.concat([changes, deletes], how="diagonal_relaxed").with_columns(
        _source=pl.lit(table.dataset),
        _batch_id=pl.lit(batch_id),
        _ingested_at=pl.lit(captured_at, UTC_US),
    )


def new_versions(
    window: pl.DataFrame, captured: pl.DataFrame, key: str, updated_at: str
) -> pl.DataFrame:
    """The rows of `window` whose version (key and `updated_at`) is not in `captured`."""
    return window.join(captured, on=[key, updated_at], how="anti", nulls_equal=True)


def last_watermark(table: Table) -> datetime | None:
    """The newest source `updated_at` captured, from the table's snapshot history."""
    for snapshot in reversed(table.snapshots()):
        if snapshot.summary is not None and snapshot.summary[WATERMARK]:
            return datetime.fromisoformat(str(snapshot.summary[WATERMARK]))
    return None


def captured_versions(
    table: Table, key: str, updated_at: str, since: datetime | None
) -> pl.DataFrame:
    """Key and `updated_at` of every version in raw stamped at or after `since`."""
    stamped = "True" if since is None else f"{updated_at} >= '{since.isoformat()}'"
    scan = table.scan(row_filter=stamped, selected_fields=(key, updated_at))
    return _frame(scan.to_arrow()).cast({key: pl.String, updated_at: UTC_US})


def live_keys(table: Table, key: str) -> pl.Series:
    """The keys whose latest captured operation is not a delete (a key-only scan)."""
    versions = _frame(
        table.scan(selected_fields=(key, "_cdc_operation", "_ingested_at")).to_arrow()
    )
    latest = versions.sort("_ingested_at").group_by(key).last()
    return latest.filter(pl.col("_cdc_operation") != DELETE)[key].cast(pl.String).sort()


def schema_changes(definition: TableDef, live: sa.Table) -> list[SchemaChange]:
    """The columns `live` (the source table now) has and lacks relative to `definition`."""
    declared = [c for c in definition.column_names if c not in CAPTURE_COLUMNS]
    added = [
        SchemaChange(str(c.name), "added", iceberg_type(c.type))
        for c in live.columns
        if c.name not in declared
    ]
    removed = [SchemaChange(c, "removed") for c in declared if c not in live.columns]
    return added + removed


def evolved(definition: TableDef, changes: Sequence[SchemaChange]) -> TableDef:
    """`definition` with the columns the source gained, at the end (the registry adds them)."""
    added = tuple(
        Column(c.column, c.type or StringType(), doc="added by the source")
        for c in changes
        if c.change == "added"
    )
    return (
        dataclasses.replace(definition, columns=definition.columns + added) if added else definition
    )


def record_schema_changes(
    catalog: Catalog,
    definition: TableDef,
    changes: Sequence[SchemaChange],
    *,
    batch_id: str,
    detected_at: datetime,
    run_id: str,
) -> WriteResult | None:
    """Append the changes `ops.schema_changes` does not hold yet; None if it holds them all."""
    name = definition.identifier_name
    log = ensure_table(catalog, ops.SCHEMA_CHANGES)
    seen: set[tuple[str, str]] = set()
    if log.current_snapshot() is not None:
        known = _frame(
            log.scan(
                row_filter=f"table_name = '{name}'", selected_fields=("column_name", "change")
            ).to_arrow()
        )
        seen = set(known.iter_rows())
    new = [c for c in changes if (c.column, c.change) not in seen]
    if not new:
        return None
    rows = pl.DataFrame(
        {
            "table_name": [name] * len(new),
            "column_name": [c.column for c in new],
            "change": [c.change for c in new],
            "detected_at": [detected_at] * len(new),
            "batch_id": [batch_id] * len(new),
        },
        schema_overrides={"detected_at": UTC_US},
    )
    log_batch = content_batch_id(ops.SCHEMA_CHANGES.identifier_name, name, batch_id)
    return write(catalog, ops.SCHEMA_CHANGES, rows, batch_id=log_batch, run_id=run_id)


def iceberg_type(sql_type: sa.types.TypeEngine[object]) -> IcebergType:
    """The raw column type for a source column type; text for anything unusual."""
    if isinstance(sql_type, sa.Boolean):
        return BooleanType()
    if isinstance(sql_type, sa.Integer):
        return LongType()
    if isinstance(sql_type, sa.Float):
        return DoubleType()
    if isinstance(sql_type, sa.Numeric):
        if sql_type.precision is not None and sql_type.scale is not None:
            return DecimalType(sql_type.precision, sql_type.scale)
        return DoubleType()
    if isinstance(sql_type, sa.DateTime):
        return TimestamptzType()
    if isinstance(sql_type, sa.Date):
        return DateType()
    return StringType()


def rows_query(live: sa.Table, definition: TableDef) -> sa.Select[Any]:
    """Every column of `live`, read as the raw table's type for it.

    The raw definition, not the driver, decides how values come back: MySQL's booleans are
    TINYINT and its DOUBLE reads as decimal, SQLite's timestamps are text.
    """
    types = {c.name: c.type for c in definition.columns}
    return sa.select(
        *(
            sa.type_coerce(column, _sql_type(types.get(column.name, StringType()))).label(
                column.name
            )
            for column in live.columns
        )
    ).select_from(live)


def _sql_type(iceberg: IcebergType) -> sa.types.TypeEngine[Any]:
    if isinstance(iceberg, BooleanType):
        return sa.Boolean()
    if isinstance(iceberg, IntegerType | LongType):
        return sa.BigInteger()
    if isinstance(iceberg, DoubleType):
        return sa.Double()
    if isinstance(iceberg, DecimalType):
        return sa.Numeric(iceberg.precision, iceberg.scale)
    if isinstance(iceberg, DateType):
        return sa.Date()
    if isinstance(iceberg, TimestamptzType):
        return sa.DateTime()
    return sa.String()


def _reflect(conn: sa.Connection, name: str) -> sa.Table:
    """The table as it is in the source now, new columns included."""
    try:
        return sa.Table(name, sa.MetaData(), autoload_with=conn)
    except sa.exc.NoSuchTableError as exc:
        safe = conn.engine.url.render_as_string(hide_password=True)
        raise SourceTableMissingError(
            f"source table {name!r} not found in {safe}: run `c360 simulate` first or fix the URL"
        ) from exc


def _changed_since(
    query: sa.Select[Any], updated_at: sa.Column[Any], since: datetime | None
) -> sa.Select[Any]:
    if since is None:
        return query
    # Sources store naive UTC: an aware bound would be shifted by the session's time zone
    # (PostgreSQL compares `timestamp >= timestamptz` in it), re-reading or skipping rows.
    return query.where(updated_at >= since.astimezone(UTC).replace(tzinfo=None))


def _read_keys(
    conn: sa.Connection,
    query: sa.Select[Any],
    key: sa.Column[Any],
    keys: pl.Series,
    table_rows: int,
) -> pl.DataFrame:
    """The rows of `keys`: by key, or by one read of the table when they are most of it."""
    if keys.len() > READ_WHOLE_SHARE * table_rows:
        return _read(conn, query).filter(pl.col(key.name).is_in(keys.implode()))
    chunks = [
        _read(conn, query.where(key.in_(keys[start : start + KEYS_PER_QUERY].to_list())))
        for start in range(0, keys.len(), KEYS_PER_QUERY)
    ]
    return pl.concat(chunks, how="diagonal_relaxed")


def read_source_keys(conn: sa.Connection, column: sa.Column[Any]) -> pl.Series:
    """Every key the source table holds (what deletes and late inserts are found by).

    A driver builds Python objects for every row it returns: for a table's keys, a second
    per million. String keys are joined in the database instead, `KEYS_PER_STRING` to a
    row, and split here; other keys, and string keys holding the separator (the counts
    disagree), are read a row each.
    """
    if not isinstance(column.type, sa.String):
        return _read(conn, sa.select(column))[column.name]
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET SESSION group_concat_max_len = 1073741824")
    joined: list[str] = []
    counted, after = 0, None
    while True:
        page = sa.select(column.label("k")).order_by(column).limit(KEYS_PER_STRING)
        keys = (page if after is None else page.where(column > after)).subquery()
        row = conn.execute(
            sa.select(_joined(conn, keys.c.k), sa.func.max(keys.c.k), sa.func.count())
        ).one()
        if row[2]:
            joined.append(row[0])
            counted, after = counted + row[2], row[1]
        if row[2] < KEYS_PER_STRING:
            break
    split = pl.Series(column.name, joined, pl.String).str.split(KEY_SEPARATOR).explode()
    if split.len() != counted:
        return _read(conn, sa.select(column))[column.name]
    return split


def _joined(conn: sa.Connection, keys: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The dialect's string aggregate of `keys`, `KEY_SEPARATOR` between them."""
    if conn.dialect.name == "postgresql":
        return sa.func.string_agg(keys, sa.literal(KEY_SEPARATOR))
    return sa.func.group_concat(keys)


def _read(conn: sa.Connection, query: sa.Select[Any]) -> pl.DataFrame:
    """Rows from the source, timestamps as UTC (sources store naive UTC)."""
    frame = pl.read_database(query, conn, infer_schema_length=None)
    naive = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None
    ]
    return frame.with_columns(pl.col(naive).dt.replace_time_zone("UTC"))


def _newest(watermark: datetime | None, stamps: pl.Series) -> datetime | None:
    """The new watermark: it never moves back, even when only late rows were captured."""
    newest = stamps.cast(UTC_US).max()
    assert newest is None or isinstance(newest, datetime)
    if watermark is None or newest is None:
        return newest or watermark
    return max(watermark, newest)


def _empty_rows(live: sa.Table) -> pl.DataFrame:
    return pl.DataFrame(schema={c.name: pl.Null for c in live.columns})


def _frame(data: object) -> pl.DataFrame:
    frame = pl.from_arrow(data)
    assert isinstance(frame, pl.DataFrame)
    return frame


# --- Prefect -------------------------------------------------------------------------------


@task(
    retries=2,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
    task_run_name="ingest-db-{database}",
)
def ingest_database(settings: Settings, run_id: str, database: str) -> list[WriteResult]:
    """Capture every replicated table of one source database (`crm`, `orders`)."""
    source = DATABASES[database]
    sources = settings.resolved_sources()
    url = source.url(sources)
    assert url, f"every profile names a {database} database"
    return capture_database(
        open_catalog(settings),
        url,
        source.tables,
        run_id=run_id,
        overlap=timedelta(minutes=sources.capture_overlap_minutes),
    )


@flow(name="ingest-db")
def ingest_db_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Replicate the CRM and orders databases into the raw zone."""
    return [
        result for database in DATABASES for result in ingest_database(settings, run_id, database)
    ]
