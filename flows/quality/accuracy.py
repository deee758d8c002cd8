"""Accuracy: a feed's agreement with its source.

A database feed's staged rows are compared with the source's on a deterministic sample of
keys, column by column as canonical text; a file's raw rows are checksummed as the simulator
checksummed what it wrote (the manifest); the stream keeps no state to ask, so staged events
are compared with the JSON they arrived as.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa
from pyiceberg.catalog import Catalog
from pyiceberg.types import TimestamptzType

from catalog.registry import ensure_table
from catalog.tables import raw
from flows.ingest_db import ReplicatedTable, rows_query
from flows.ingest_files import LANDED, LandingFeed, read_ledger
from flows.quality.results import (
    ACCURACY,
    MIN_ACCURACY_PCT,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.sources import DATABASE_FEEDS, FILE_FEEDS, STREAM_FEED, Sources
from flows.quality.tables import frame, isin, staged_for
from flows.stage import Staged
from simulator.emitters.database import connect
from simulator.emitters.landing import rows_checksum

SAMPLE_SIZE = 500
# Columns staging rewrites (normalised contacts): they cannot agree with the source's text.
REWRITTEN = frozenset({"first_name", "last_name", "email", "phone", "street", "city"})
# The stream record columns that are typed copies of the JSON payload's fields.
PAYLOAD_FIELDS = tuple(
    c.name
    for c in raw.CLICKSTREAM_EVENTS.columns
    if not c.name.startswith("_") and c.name not in ("payload", "partition_key", "arrived_at")
)
NULL_TEXT = "\\N"


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


def accuracy(catalog: Catalog, sources: Sources, feed: str) -> DqResult:
    """Agreement with the source: sampled rows (databases), checksums (files), payloads
    (the stream)."""
    bound = Threshold(">=", MIN_ACCURACY_PCT)
    if feed in FILE_FEEDS:
        return _file_accuracy(catalog, sources, feed, FILE_FEEDS[feed], bound)
    staged = staged_for(feed)
    if staged is None:
        return not_applicable(feed, ACCURACY, bound, "not staged yet")
    if feed == STREAM_FEED:
        return _stream_accuracy(catalog, feed, staged, bound)
    database, table = DATABASE_FEEDS[feed]
    return _database_accuracy(catalog, sources.database_url(database), table, staged, bound)


def _database_accuracy(
    catalog: Catalog, url: str, table: ReplicatedTable, staged: Staged, bound: Threshold
) -> DqResult:
    feed = staged.feed
    target = ensure_table(catalog, staged.target)
    sample = sample_keys(frame(target, columns=(table.key,))[table.key].cast(pl.String))
    if not sample:
        return not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    ours = {
        str(r[table.key]): r
        for r in target.scan(row_filter=isin(table.key, sample)).to_arrow().to_pylist()
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
    return measured(feed, ACCURACY, bound, percent(agreeing, len(sample)), detail)


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
    sample = sample_keys(frame(target, columns=("event_id",))["event_id"])
    if not sample:
        return not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    types = {f.name: f.field_type for f in target.schema().fields}
    columns = [c for c in PAYLOAD_FIELDS if c in types]
    events = target.scan(row_filter=isin("event_id", sample)).to_arrow().to_pylist()
    arrived = frame(
        ensure_table(catalog, staged.source),
        row_filter=isin("event_id", sample),
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
    return measured(feed, ACCURACY, bound, percent(agreeing, len(sample)), detail)


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
        return not_applicable(feed, ACCURACY, bound, "no file has landed yet")
    expected = dict(zip(sources.manifest["dataset"], sources.manifest["checksum"], strict=True))
    known = [f for f in files if f.landing_key in expected]
    if not known:
        return not_applicable(
            feed, ACCURACY, bound, f"none of the {len(files)} landed files is in the manifest"
        )
    rows = frame(
        ensure_table(catalog, landing.table),
        row_filter=isin("_source_file", [f.landing_key for f in known]),
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
    return measured(
        feed, ACCURACY, bound, percent(agreeing_rows, total) if total else 100.0, detail
    )
