"""Data quality: the seed's five SLOs (section 1.2.2) measured per feed in every run.

Each feed (a raw table with a data contract) is measured against what its source says,
never against the pipeline's own output:

- completeness (>= the contract's `slo_completeness_pct`): rows present in the feed's staging
  table vs the source's own count: the live rows of a source database table (matched by key),
  the distinct events the manifest says were put on the stream, the distinct vendor ids and
  tickets in the simulator's truth (matched by id), the rows of the newest product file;
- uniqueness (<= 0.1 %): rows of the staging table whose identifier another row also has;
- accuracy (>= 99 %): agreement with the source. A database feed's staged rows are compared
  with the source's on a deterministic sample of keys, column by column as canonical text,
  leaving out the columns staging rewrites (names, emails, phones, street, city). A file's
  raw rows are checksummed as the simulator checksummed what it wrote (the manifest). The
  stream keeps no state to ask, so staged events are compared with the JSON they arrived as;
- timeliness (>= 98 %): rows of the run's raw batches (else the last batch) captured within
  the contract's `slo_timeliness_minutes` of becoming available: a stream record when the
  stream accepted it, a database row or file when the simulator published its day (the
  publication log, `simulator.world.read_published`). A database row's day is the date of
  the time the source stamped it (order lines: their order's `ordered_at`), history before
  the start being day 0's; under the `clock_skew` fault a row stamped before midnight but
  committed after counts from the day before, so it looks later than it was. Deletes carry
  no time and are left out, as are rows of days the log lacks (each said in the detail);
- schema drift (== 0): the feed's schema changes no contract version has accepted.

A metric that cannot be measured is reported with no value and `passed` None, saying why.
`quality_task` writes one run's results to `ops.dq_results` in one commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import polars as pl
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import BooleanExpression, In
from pyiceberg.table import Table
from pyiceberg.types import TimestamptzType
from rich.table import Table as RichTable
from rich.text import Text

from c360.settings import Settings
from catalog.contracts import Contract, load_contracts
from catalog.contracts.drift import pending_changes
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import ops, raw
from catalog.writer import BATCH_ID, RUN_ID, WriteResult, content_batch_id, write
from flows.ingest_db import DATABASES, DELETE, ReplicatedTable, SourceDatabase, rows_query
from flows.ingest_files import LANDED, VENDOR_FEEDS, LandingFeed, read_ledger
from flows.ingest_tickets import TICKETS
from flows.stage import STAGED, Staged
from simulator.clock import day_date
from simulator.emitters.database import connect
from simulator.emitters.landing import MALFORMED_SUFFIX, rows_checksum
from simulator.sources.clickstream import DISTINCT_DATASET
from simulator.truth import read_manifest, read_records
from simulator.world import read_published

COMPLETENESS, UNIQUENESS, ACCURACY, TIMELINESS, SCHEMA_DRIFT = (
    "completeness",
    "uniqueness",
    "accuracy",
    "timeliness",
    "schema_drift",
)
METRICS = (COMPLETENESS, UNIQUENESS, ACCURACY, TIMELINESS, SCHEMA_DRIFT)
DEFAULT_COMPLETENESS_PCT = 99.5
MAX_DUPLICATE_PCT = 0.1
MIN_ACCURACY_PCT = 99.0
MIN_TIMELY_PCT = 98.0
SAMPLE_SIZE = 500
# Columns staging rewrites (normalised contacts): they cannot agree with the source's text.
REWRITTEN = frozenset({"first_name", "last_name", "email", "phone", "street", "city"})
# Order lines carry no commit time: they are written with their order, so they take its
# `ordered_at` (table, key in the line, time column in the parent).
PARENT_STAMPS = {raw.ORDERS_ORDER_ITEMS.name: (raw.ORDERS_ORDERS, "order_id", "ordered_at")}
# File feeds whose every file is the whole catalog: the source's count is the newest file's.
SNAPSHOT_FILE_FEEDS = frozenset({VENDOR_FEEDS["products"].name})
STREAM_FEED = raw.CLICKSTREAM_EVENTS.name
# The stream record columns that are typed copies of the JSON payload's fields.
PAYLOAD_FIELDS = tuple(
    c.name
    for c in raw.CLICKSTREAM_EVENTS.columns
    if not c.name.startswith("_") and c.name not in ("payload", "partition_key", "arrived_at")
)
NULL_TEXT = "\\N"
RAW_TABLES = {t.name: t for t in raw.TABLES}
# Feeds by raw table name: database tables (with their database) and landing-zone feeds.
DATABASE_FEEDS: dict[str, tuple[SourceDatabase, ReplicatedTable]] = {
    t.raw.name: (db, t) for db in DATABASES.values() for t in db.tables
}
FILE_FEEDS: dict[str, LandingFeed] = {f.table.name: f for f in (*VENDOR_FEEDS.values(), TICKETS)}
UTC_US = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Threshold:
    """An SLO's bound, e.g. `>= 99.5`."""

    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"

    def met(self, value: float) -> bool:
        """Whether `value` is within the bound."""
        match self.op:
            case ">=":
                return value >= self.limit
            case "<=":
                return value <= self.limit
            case "==":
                return value == self.limit
        raise ValueError(f"unknown comparison {self.op!r}")


@dataclass(frozen=True)
class DqResult:
    """One SLO of one feed, measured: `value` and `passed` are None when it could not be."""

    feed: str
    metric: str
    value: float | None
    threshold: str
    passed: bool | None
    detail: str


def _measured(feed: str, metric: str, bound: Threshold, value: float, detail: str) -> DqResult:
    return DqResult(feed, metric, value, str(bound), bound.met(value), detail)


def _not_applicable(feed: str, metric: str, bound: Threshold, why: str) -> DqResult:
    return DqResult(feed, metric, None, str(bound), None, why)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole


@dataclass
class Sources:
    """What the measures compare against, each read at most once per `measure` call."""

    settings: Settings

    @cached_property
    def manifest(self) -> pl.DataFrame:
        return read_manifest(self.settings.sources_dir / "truth")

    @cached_property
    def records(self) -> pl.DataFrame:
        return read_records(self.settings.sources_dir / "truth")

    @cached_property
    def published(self) -> pl.DataFrame:
        """The publication log as `day`, `published_at`."""
        log = read_published(self.settings)
        return pl.DataFrame(
            {"day": list(log), "published_at": list(log.values())},
            schema={"day": pl.Int32, "published_at": UTC_US},
        )

    def database_url(self, database: SourceDatabase) -> str:
        url = database.url(self.settings.resolved_sources())
        assert url, f"every profile names a {database.name} database"
        return url


def staged_for(feed: str) -> Staged | None:
    """The staging table built from `feed`, if staging builds one yet."""
    return next((s for s in STAGED.values() if s.feed == feed), None)


# --- Reading tables --------------------------------------------------------------------------


def _frame(
    table: Table, *, row_filter: BooleanExpression | None = None, columns: Sequence[str] = ()
) -> pl.DataFrame:
    """Rows of `table` (none before its first commit), optionally filtered and narrowed."""
    scan = table.scan(
        row_filter=row_filter if row_filter is not None else "True",
        selected_fields=tuple(columns) or ("*",),
    )
    frame = pl.from_arrow(scan.to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _isin(column: str, values: Sequence[str]) -> BooleanExpression:
    """`column IN values` as a pyiceberg row filter (whose stubs miss this signature)."""
    return In(column, list(values))  # type: ignore[call-arg, arg-type, misc]


def sample_keys(keys: Iterable[str], size: int = SAMPLE_SIZE) -> list[str]:
    """Up to `size` of `keys`, the same ones every time: those whose sha256 sorts first."""
    return sorted(set(keys), key=lambda k: hashlib.sha256(k.encode()).digest())[:size]


def canonical(value: object) -> str:
    """A value as text both sides agree on: timestamps as UTC ISO with microseconds (naive
    ones taken as UTC), decimals exactly (`12.50` as `12.5`), null as `\\N`."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def row_digest(row: Mapping[str, object], columns: Sequence[str]) -> str:
    """The sha256 of a row's `columns` as canonical text."""
    text = "\x1f".join(canonical(row.get(c)) for c in columns)
    return hashlib.sha256(text.encode()).hexdigest()


# --- Completeness ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceCount:
    """How many rows a source holds by its own account, and their ids when it says which."""

    rows: int
    what: str
    keys: pl.Series | None = None


def source_count(sources: Sources, feed: str) -> SourceCount:
    """The source's own count for `feed`: never the pipeline's output."""
    if feed in DATABASE_FEEDS:
        database, table = DATABASE_FEEDS[feed]
        keys = _source_keys(sources.database_url(database), table)
        return SourceCount(keys.len(), f"rows in the source table {table.dataset}", keys)
    if feed == STREAM_FEED:
        distinct = sources.manifest.filter(pl.col("dataset") == DISTINCT_DATASET)
        return SourceCount(int(distinct["rows"].sum()), "distinct events put on the stream")
    landing = FILE_FEEDS[feed]
    if landing.name in SNAPSHOT_FILE_FEEDS:
        return _newest_file_count(sources.manifest, landing)
    ids = sources.records.filter(pl.col("source") == landing.name)["source_record_id"].unique()
    return SourceCount(ids.len(), f"ids the {landing.name} source emitted", ids)


def _source_keys(url: str, table: ReplicatedTable) -> pl.Series:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.column(table.key, sa.String)).select_from(sa.table(table.name))
            keys = [str(k) for k in conn.execute(query).scalars().all()]
    finally:
        engine.dispose()
    return pl.Series(table.key, keys, pl.String)


def _newest_file_count(manifest: pl.DataFrame, landing: LandingFeed) -> SourceCount:
    files = manifest.filter(
        pl.col("dataset").str.starts_with(landing.prefix)
        & ~pl.col("dataset").str.ends_with(MALFORMED_SUFFIX)
    ).sort("day", "dataset")
    if files.is_empty():
        return SourceCount(0, f"rows in the newest {landing.name} file")
    newest = files.row(-1, named=True)
    return SourceCount(newest["rows"], f"rows in the newest file, {newest['dataset']}")


def completeness(
    catalog: Catalog, sources: Sources, feed: str, contract: Contract | None
) -> DqResult:
    """Rows of `feed` present in staging, as a share of the rows its source holds: matched
    by id where the source names its ids, else by count."""
    pct = contract.expectations.slo_completeness_pct if contract else DEFAULT_COMPLETENESS_PCT
    bound = Threshold(">=", pct)
    staged = staged_for(feed)
    if staged is None:
        return _not_applicable(feed, COMPLETENESS, bound, "not staged yet")
    source = source_count(sources, feed)
    if source.rows == 0:
        return _not_applicable(feed, COMPLETENESS, bound, f"the source has no rows ({source.what})")
    identifier = staged.target.identifier
    ids = _frame(ensure_table(catalog, staged.target), columns=identifier)
    if source.keys is None or len(identifier) != 1:
        present = min(ids.height, source.rows)
        detail = f"{ids.height:,} staged rows vs {source.rows:,} {source.what}"
        return _measured(feed, COMPLETENESS, bound, _percent(present, source.rows), detail)
    staged_ids = ids[identifier[0]].cast(pl.String)
    present = int(source.keys.is_in(staged_ids.implode()).sum())
    detail = f"{present:,} of {source.rows:,} {source.what} staged"
    extra = int((~staged_ids.is_in(source.keys.implode())).sum())
    if extra:
        detail += f"; {extra:,} staged rows the source no longer has"
    return _measured(feed, COMPLETENESS, bound, _percent(present, source.rows), detail)


# --- Uniqueness ------------------------------------------------------------------------------


def uniqueness(catalog: Catalog, feed: str) -> DqResult:
    """Staged rows whose identifier another staged row also has, as a share of all."""
    bound = Threshold("<=", MAX_DUPLICATE_PCT)
    staged = staged_for(feed)
    if staged is None:
        return _not_applicable(feed, UNIQUENESS, bound, "not staged yet")
    identifier = staged.target.identifier
    if not identifier:
        return _not_applicable(feed, UNIQUENESS, bound, "the staging table declares no identifier")
    ids = _frame(ensure_table(catalog, staged.target), columns=identifier)
    if ids.is_empty():
        return _not_applicable(feed, UNIQUENESS, bound, "the staging table is empty")
    duplicates = ids.height - ids.n_unique()
    key = ", ".join(identifier)
    detail = f"{duplicates:,} of {ids.height:,} staged rows repeat an earlier row's {key}"
    return _measured(feed, UNIQUENESS, bound, _percent(duplicates, ids.height), detail)


# --- Accuracy --------------------------------------------------------------------------------


def accuracy(catalog: Catalog, sources: Sources, feed: str) -> DqResult:
    """Agreement with the source: sampled rows (databases), checksums (files), payloads
    (the stream)."""
    bound = Threshold(">=", MIN_ACCURACY_PCT)
    if feed in FILE_FEEDS:
        return _file_accuracy(catalog, sources, feed, FILE_FEEDS[feed], bound)
    staged = staged_for(feed)
    if staged is None:
        return _not_applicable(feed, ACCURACY, bound, "not staged yet")
    if feed == STREAM_FEED:
        return _stream_accuracy(catalog, feed, staged, bound)
    database, table = DATABASE_FEEDS[feed]
    return _database_accuracy(catalog, sources.database_url(database), table, staged, bound)


def _database_accuracy(
    catalog: Catalog, url: str, table: ReplicatedTable, staged: Staged, bound: Threshold
) -> DqResult:
    feed = staged.feed
    target = ensure_table(catalog, staged.target)
    sample = sample_keys(_frame(target, columns=(table.key,))[table.key].cast(pl.String))
    if not sample:
        return _not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    ours = {
        str(r[table.key]): r
        for r in target.scan(row_filter=_isin(table.key, sample)).to_arrow().to_pylist()
    }
    theirs = _source_rows(url, table, sample)
    source_columns = next(iter(theirs.values()), {}).keys()
    columns = sorted((set(target.schema().column_names) & set(source_columns)) - REWRITTEN)
    agreeing = sum(
        k in theirs and row_digest(ours[k], columns) == row_digest(theirs[k], columns)
        for k in sample
    )
    detail = (
        f"{agreeing:,} of {len(sample):,} sampled rows agree with {table.dataset} on "
        f"{len(columns)} columns ({', '.join(columns)})"
    )
    gone = sum(k not in theirs for k in sample)
    if gone:
        detail += f"; {gone:,} sampled rows are no longer in the source"
    return _measured(feed, ACCURACY, bound, _percent(agreeing, len(sample)), detail)


def _source_rows(url: str, table: ReplicatedTable, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The source's rows of `keys`, read as the raw table types them, by key."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            live = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
            query = rows_query(live, table.raw).where(live.c[table.key].in_(keys))
            return {str(r[table.key]): dict(r) for r in conn.execute(query).mappings()}
    finally:
        engine.dispose()


def _stream_accuracy(catalog: Catalog, feed: str, staged: Staged, bound: Threshold) -> DqResult:
    target = ensure_table(catalog, staged.target)
    sample = sample_keys(_frame(target, columns=("event_id",))["event_id"])
    if not sample:
        return _not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    types = {f.name: f.field_type for f in target.schema().fields}
    columns = [c for c in PAYLOAD_FIELDS if c in types]
    events = target.scan(row_filter=_isin("event_id", sample)).to_arrow().to_pylist()
    arrived = _frame(
        ensure_table(catalog, staged.source),
        row_filter=_isin("event_id", sample),
        columns=("event_id", "payload"),
    )
    payloads = dict(zip(arrived["event_id"], arrived["payload"], strict=True))
    agreeing = sum(
        _payload_agrees(event, payloads.get(event["event_id"]), columns, types) for event in events
    )
    detail = (
        f"{agreeing:,} of {len(sample):,} sampled staged events agree with the JSON they "
        "arrived as (the stream keeps no state to ask, so this checks staging against "
        "what arrived, not against the producer)"
    )
    return _measured(feed, ACCURACY, bound, _percent(agreeing, len(sample)), detail)


def _payload_agrees(
    event: Mapping[str, object],
    payload: str | None,
    columns: Sequence[str],
    types: Mapping[str, Any],
) -> bool:
    try:
        fields = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        return False
    if not isinstance(fields, dict):
        return False
    try:
        parsed = {
            c: datetime.fromisoformat(fields[c])
            if isinstance(types[c], TimestamptzType) and fields.get(c)
            else fields.get(c)
            for c in columns
        }
    except (TypeError, ValueError):  # a timestamp field that is not an ISO 8601 string
        return False
    return row_digest(event, columns) == row_digest(parsed, columns)


def _file_accuracy(
    catalog: Catalog, sources: Sources, feed: str, landing: LandingFeed, bound: Threshold
) -> DqResult:
    files = [e for e in read_ledger(catalog, landing.name) if e.status == LANDED]
    if not files:
        return _not_applicable(feed, ACCURACY, bound, "no file has landed yet")
    expected = dict(zip(sources.manifest["dataset"], sources.manifest["checksum"], strict=True))
    known = [f for f in files if f.landing_key in expected]
    if not known:
        return _not_applicable(
            feed, ACCURACY, bound, f"none of the {len(files)} landed files is in the manifest"
        )
    rows = _frame(
        ensure_table(catalog, landing.table),
        row_filter=_isin("_source_file", [f.landing_key for f in known]),
    )
    agreeing_files = agreeing_rows = 0
    for entry in known:
        as_written = rows.filter(pl.col("_source_file") == entry.landing_key).select(
            pl.col(c.raw_column).alias(c.name) for c in entry.schema()
        )
        if rows_checksum(as_written) == expected[entry.landing_key]:
            agreeing_files += 1
            agreeing_rows += as_written.height
    total = sum(f.rows or 0 for f in known)
    detail = (
        f"{agreeing_rows:,} of {total:,} rows in files whose checksum matches the manifest "
        f"({agreeing_files} of {len(known)} files)"
    )
    if len(known) < len(files):
        detail += f"; {len(files) - len(known)} landed files not in the manifest"
    return _measured(
        feed, ACCURACY, bound, _percent(agreeing_rows, total) if total else 100.0, detail
    )


# --- Timeliness ------------------------------------------------------------------------------


def run_batches(table: Table, run_id: str) -> tuple[list[str], str]:
    """The batch ids `run_id` committed to `table`, or its last batch when it committed none;
    and which of the two, in words."""
    batches = [
        (props[BATCH_ID], props.get(RUN_ID))
        for s in table.snapshots()
        if s.summary is not None and BATCH_ID in (props := s.summary.additional_properties)
    ]
    mine = [batch for batch, run in batches if run == run_id]
    if mine:
        return mine, f"ingested in run {run_id}"
    return (
        ([batches[-1][0]], "of the last batch (none ingested in this run)") if batches else ([], "")
    )


def timeliness(
    catalog: Catalog, sources: Sources, feed: str, contract: Contract | None, *, run_id: str
) -> DqResult:
    """Rows of the run's raw batches captured within the SLO of becoming available."""
    bound = Threshold(">=", MIN_TIMELY_PCT)
    if contract is None:
        return _not_applicable(feed, TIMELINESS, bound, "no contract states a timeliness SLO")
    table = ensure_table(catalog, RAW_TABLES[feed])
    batches, which = run_batches(table, run_id)
    if not batches:
        return _not_applicable(feed, TIMELINESS, bound, "nothing ingested yet")
    rows = _frame(table, row_filter=_isin("_batch_id", batches))
    timed, untimed = available_times(catalog, sources, feed, rows)
    if timed.is_empty():
        why = "; ".join(untimed)
        return _not_applicable(feed, TIMELINESS, bound, f"{rows.height:,} rows {which}: {why}")
    minutes = contract.expectations.slo_timeliness_minutes
    lag = (timed["_ingested_at"] - timed["available_at"]).clip(lower_bound=timedelta(0))
    within = int((lag <= timedelta(minutes=minutes)).sum())
    worst = lag.max()
    assert isinstance(worst, timedelta)
    detail = "; ".join(
        [
            f"{within:,} of {timed.height:,} rows {which} captured within {minutes} min of "
            f"becoming available (worst lag {worst.total_seconds():,.1f} s)",
            *untimed,
        ]
    )
    return _measured(feed, TIMELINESS, bound, _percent(within, timed.height), detail)


def available_times(
    catalog: Catalog, sources: Sources, feed: str, rows: pl.DataFrame
) -> tuple[pl.DataFrame, list[str]]:
    """`rows`' `_ingested_at` with `available_at`, when the source made each row available.

    Returns:
        The rows that time is known for, and what was left out and why (empty: nothing).
    """
    if feed == STREAM_FEED:
        return rows.select("_ingested_at", available_at="arrived_at"), []
    if feed in FILE_FEEDS:
        days = sources.manifest.select(_source_file="dataset", day="day")
        return _published(sources, rows.join(days, on="_source_file", how="left"))
    changes = rows.filter(pl.col("_cdc_operation") != DELETE)
    deletes = rows.height - changes.height
    stamped = _source_stamps(catalog, feed, changes).with_columns(day=_day_of("stamp"))
    timed, untimed = _published(sources, stamped)
    if deletes:
        untimed.append(f"{deletes:,} deletes not timed (a source says not when it deleted)")
    return timed, untimed


def _source_stamps(catalog: Catalog, feed: str, changes: pl.DataFrame) -> pl.DataFrame:
    """Database rows (no deletes) with the time the source committed them, `stamp`."""
    if feed not in PARENT_STAMPS:
        return changes.select("_ingested_at", stamp="_source_committed_at")
    parent, key, column = PARENT_STAMPS[feed]
    placed = (
        _frame(ensure_table(catalog, parent), columns=(key, column))
        .group_by(key)
        .agg(pl.col(column).min().alias("stamp"))
    )
    return changes.join(placed, on=key, how="left").select("_ingested_at", "stamp")


def _day_of(column: str) -> pl.Expr:
    """The simulated day a source timestamp falls on; history before the start is day 0's."""
    days = (pl.col(column).dt.date() - pl.lit(day_date(0))).dt.total_days()
    return days.clip(lower_bound=0).cast(pl.Int32)


def _published(sources: Sources, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Rows with the simulated `day` they belong to, given the time it was published."""
    joined = rows.join(sources.published, on="day", how="left")
    timed = joined.filter(pl.col("published_at").is_not_null())
    untimed = []
    no_day = joined.filter(pl.col("day").is_null()).height
    if no_day:
        untimed.append(f"{no_day:,} rows not timed (no source day: not in the manifest)")
    unpublished = joined.filter(pl.col("day").is_not_null() & pl.col("published_at").is_null())
    if unpublished.height:
        days = ", ".join(str(d) for d in sorted(unpublished["day"].unique().to_list()))
        untimed.append(
            f"{unpublished.height:,} rows not timed (no publication time for day {days}: "
            "simulated before the publication log?)"
        )
    return timed.select("_ingested_at", available_at="published_at"), untimed


# --- Schema drift ----------------------------------------------------------------------------


def schema_drift(catalog: Catalog, feed: str) -> DqResult:
    """The feed's schema changes that no accepted contract version describes."""
    changes = pending_changes(catalog, feed)
    detail = "; ".join(str(c) for c in changes) or "no unaccepted schema change"
    return _measured(feed, SCHEMA_DRIFT, Threshold("==", 0), float(len(changes)), detail)


# --- One run ---------------------------------------------------------------------------------


def measure(
    catalog: Catalog, settings: Settings, *, run_id: str, feeds: Sequence[str] | None = None
) -> list[DqResult]:
    """Every SLO of `feeds` (raw table names; default: every feed with a contract).

    Raises:
        SourceUnavailableError: a source database does not answer.
    """
    contracts = load_contracts(settings.contracts_dir)
    sources = Sources(settings)
    results = []
    for feed in feeds if feeds is not None else list(contracts):
        contract = contracts.get(feed)
        results += [
            completeness(catalog, sources, feed, contract),
            uniqueness(catalog, feed),
            accuracy(catalog, sources, feed),
            timeliness(catalog, sources, feed, contract, run_id=run_id),
            schema_drift(catalog, feed),
        ]
    return results


def write_results(
    catalog: Catalog,
    results: Sequence[DqResult],
    *,
    run_id: str,
    measured_at: datetime | None = None,
) -> WriteResult:
    """Record one run's results in `ops.dq_results`: one commit, once per run id."""
    rows = pl.DataFrame(
        {
            "run_id": run_id,
            "feed": [r.feed for r in results],
            "metric": [r.metric for r in results],
            "value": [r.value for r in results],
            "threshold": [r.threshold for r in results],
            "passed": [r.passed for r in results],
            "detail": [r.detail for r in results],
            "measured_at": measured_at or datetime.now(UTC),
        },
        schema_overrides={"value": pl.Float64, "passed": pl.Boolean, "measured_at": UTC_US},
    )
    batch_id = content_batch_id(ops.DQ_RESULTS.identifier_name, run_id)
    return write(catalog, ops.DQ_RESULTS, rows, batch_id=batch_id, run_id=run_id)


def format_results(results: Sequence[DqResult]) -> RichTable:
    """The run summary: a row per feed, a column per metric, each value with its verdict."""
    table = RichTable(title="data quality", title_justify="left")
    table.add_column("feed")
    for metric in METRICS:
        table.add_column(metric.replace("_", " "), justify="right")
    cells = {(r.feed, r.metric): r for r in results}
    for feed in dict.fromkeys(r.feed for r in results):
        table.add_row(feed, *(_cell(cells.get((feed, m))) for m in METRICS))
    return table


def _cell(result: DqResult | None) -> Text:
    if result is None or result.value is None or result.passed is None:
        return Text("n/a", style="dim")
    value = f"{result.value:g}" if result.metric == SCHEMA_DRIFT else f"{result.value:.2f}%"
    verdict, style = ("PASS", "green") if result.passed else ("FAIL", "bold red")
    return Text(f"{value} {verdict}", style=style)


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE, task_run_name="quality")
def quality_task(settings: Settings, run_id: str) -> list[DqResult]:
    """Measure every feed's SLOs and record them in `ops.dq_results` (once per run id)."""
    catalog = open_catalog(settings)
    results = measure(catalog, settings, run_id=run_id)
    write_results(catalog, results, run_id=run_id)
    failed = [f"{r.feed} {r.metric} ({r.detail})" for r in results if r.passed is False]
    logger = get_run_logger()
    for failure in failed:
        logger.warning("SLO missed: %s", failure)
    logger.info(
        "%d SLOs measured, %d missed", sum(r.passed is not None for r in results), len(failed)
    )
    return results
