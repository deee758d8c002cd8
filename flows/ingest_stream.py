"""Stream ingestion (the seed's Kinesis + Firehose): every shard of the clickstream, read in
micro-batches into `raw.clickstream_events`, each record exactly once.

Exactly once needs no second store: the last sequence number read from each shard is
committed in the same Iceberg snapshot as the rows (summary entries
`c360.checkpoint.<shard>`), and a consumer starts from the checkpoints of the table's latest
snapshot. A crash before a commit leaves the old checkpoints, so the records are read again;
a crash after it leaves the new ones, so they are not. A batch's id is a digest of the shard
ranges it holds, so committing the same read twice is a no-op too.

Raw keeps every record as it arrived, duplicates and late events included: deduplication is
staging's job. Run one consumer per stream and table: two would read the same records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.maintenance import declared_tables, expire_snapshots, pinned_snapshots
from catalog.registry import ensure_table
from catalog.tables import raw
from catalog.writer import WriteResult, content_batch_id, write
from simulator.emitters.stream import MAX_GET_LIMIT, Stream, StreamRecord, open_stream
from simulator.sources import clickstream

CHECKPOINT_PREFIX = "c360.checkpoint."
STREAM_PROPERTY = "c360.stream"
# Follow mode: how long to wait for new records once caught up, and how long read records
# may wait to be committed (0: commit as soon as caught up; Firehose's minimum is 60 s).
POLL_SECONDS = 0.5
FLUSH_SECONDS = 0.0
MAX_BATCH_RECORDS = 50_000
# Kinesis can reshard; a follower looks for new shards this often.
SHARD_REFRESH_SECONDS = 60.0
# A follower commits every second or so, and pyiceberg copies the table's whole metadata on
# each commit: with every snapshot kept, a commit takes ~0.5 s by the 400th and keeps growing.
# So a follower expires all but its newest snapshots (raw rows keep their own history in
# `_batch_id`/`_ingested_at`; only time travel to older snapshots goes), except those
# maintenance protects: the raw snapshot staging last consumed and every one after it stay
# until staging moves on, or its next run would rebuild clickstream in full.
KEEP_SNAPSHOTS = 100
# The collector's ISO timestamps (`...T12:00:00.000Z`); offsets other than Z are accepted.
EVENT_AT_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
# Fields copied from the JSON into string columns; `event_at` becomes a timestamp.
STRING_FIELDS = tuple(f for f in clickstream.EVENT_FIELDS if f != "event_at")

log = logging.getLogger(__name__)


class StreamMismatchError(RuntimeError):
    """The raw table's checkpoints belong to another stream; the message says what to do."""


@dataclass
class Batch:
    """Records read since the last commit and the positions they move each shard to.

    Args:
        start: each shard's committed position when the batch began (None: never read).
        positions: each shard's position after the records read so far.
    """

    start: dict[str, str | None]
    positions: dict[str, str | None] = field(default_factory=dict)
    records: list[StreamRecord] = field(default_factory=list)
    first_read_at: float | None = None  # time.monotonic() when the first record came in

    def __post_init__(self) -> None:
        self.positions = {**self.start, **self.positions}

    def add(self, shard_id: str, records: list[StreamRecord]) -> None:
        if not records:
            return
        if self.first_read_at is None:
            self.first_read_at = time.monotonic()
        self.records += records
        self.positions[shard_id] = records[-1].sequence_number

    def age(self) -> float:
        return 0.0 if self.first_read_at is None else time.monotonic() - self.first_read_at

    def ranges(self) -> list[str]:
        """`shard:after-through` for every shard the batch read, sorted."""
        return sorted(
            f"{shard}:{self.start.get(shard) or ''}-{position}"
            for shard, position in self.positions.items()
            if position != self.start.get(shard)
        )

    def next(self) -> Batch:
        """The empty batch that continues where this one ends."""
        return Batch(dict(self.positions))


def stream_key(settings: Settings) -> str:
    """Which stream a table's checkpoints belong to: `<backend>:<stream name>`."""
    sources = settings.resolved_sources()
    return f"{sources.stream or 'embedded'}:{sources.stream_name}"


def committed_positions(table: Table, key: str) -> dict[str, str]:
    """Each shard's last sequence number committed to `table`, from its latest checkpoint.

    Raises:
        StreamMismatchError: the checkpoints are from a stream other than `key`.
    """
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        if STREAM_PROPERTY not in summary:
            continue  # not a consumer's commit (table maintenance): look further back
        if summary[STREAM_PROPERTY] != key:
            raise StreamMismatchError(
                f"{table.name()[-1]} holds records of stream {summary[STREAM_PROPERTY]}, not "
                f"{key}: its checkpoints do not apply. Point C360_SOURCES__STREAM* back at that "
                "stream, or `c360 reset` to start over"
            )
        return {
            name.removeprefix(CHECKPOINT_PREFIX): value
            for name, value in summary.items()
            if name.startswith(CHECKPOINT_PREFIX)
        }
    return {}


def checkpoint_properties(key: str, positions: Mapping[str, str | None]) -> dict[str, str]:
    """The snapshot-summary entries that commit `positions` (every shard read so far)."""
    return {
        STREAM_PROPERTY: key,
        **{CHECKPOINT_PREFIX + shard: p for shard, p in sorted(positions.items()) if p is not None},
    }


def events_frame(
    records: list[StreamRecord], *, batch_id: str, ingested_at: datetime
) -> pl.DataFrame:
    """`records` as rows of `raw.clickstream_events`: the payload kept whole, the event's
    known fields copied into typed columns (null where missing or not JSON)."""
    frame = pl.DataFrame(
        {
            # Arrow strings must be UTF-8; escaped bytes keep a broken record's content.
            "payload": [r.data.decode("utf-8", errors="backslashreplace") for r in records],
            "partition_key": [r.partition_key for r in records],
            "arrived_at": [r.arrived_at for r in records],
            "_source_position": [f"{r.shard_id}:{r.sequence_number}" for r in records],
        },
        schema={
            "payload": pl.String,
            "partition_key": pl.String,
            "arrived_at": pl.Datetime("us", "UTC"),
            "_source_position": pl.String,
        },
    )
    payload = pl.col("payload")
    return frame.with_columns(
        *(payload.str.json_path_match(f"$.{name}").alias(name) for name in STRING_FIELDS),
        event_at=payload.str.json_path_match("$.event_at").str.to_datetime(
            EVENT_AT_FORMAT, time_unit="us", time_zone="UTC", strict=False
        ),
        _source=pl.lit(clickstream.DATASET),
        _batch_id=pl.lit(batch_id),
        _ingested_at=pl.lit(ingested_at, dtype=pl.Datetime("us", "UTC")),
    )


def read_round(stream: Stream, shards: list[str], batch: Batch, room: int) -> int:
    """Read one page from each shard into `batch`, at most `room` records in all.

    Returns:
        How many records were read (0: every shard is caught up).
    """
    read = 0
    for shard in shards:
        limit = min(MAX_GET_LIMIT, room - read)
        if limit <= 0:
            break
        page = stream.get_records(shard, batch.positions.get(shard), limit)
        batch.add(shard, page.records)
        read += len(page.records)
    return read


def commit_batch(catalog: Catalog, batch: Batch, key: str, run_id: str) -> WriteResult:
    """Append `batch`'s records and its shard positions to the raw table in one commit."""
    batch_id = content_batch_id(clickstream.DATASET, key, *batch.ranges())
    frame = events_frame(batch.records, batch_id=batch_id, ingested_at=datetime.now(UTC))
    return write(
        catalog,
        raw.CLICKSTREAM_EVENTS,
        frame,
        batch_id=batch_id,
        run_id=run_id,
        properties=checkpoint_properties(key, batch.positions),
    )


def expire_history(catalog: Catalog, keep: int) -> int:
    """Expire the raw table's snapshots but the newest `keep` and those maintenance protects
    (the raw snapshot staging resumes from and every one after it); return how many went.

    Only snapshot metadata goes, as in maintenance (whose expiry this is): an append-only
    table's older snapshots reference no file that the newest does not, so no data is lost;
    files only a compaction replaced are left to maintenance's orphan removal.

    Raises:
        CommitFailedException: concurrent commits kept winning.
    """
    tables = declared_tables(catalog)
    name = raw.CLICKSTREAM_EVENTS.identifier_name
    pinned = pinned_snapshots(tables).get(name, ())
    expired = expire_snapshots(
        tables[name], older_than=datetime.now(UTC), keep_last=keep, pinned=pinned
    )
    return len(expired)


def consume(
    settings: Settings,
    *,
    follow: bool,
    run_id: str | None = None,
    stop: threading.Event | None = None,
    max_seconds: float | None = None,
    poll_seconds: float = POLL_SECONDS,
    flush_seconds: float = FLUSH_SECONDS,
    max_batch_records: int = MAX_BATCH_RECORDS,
    keep_snapshots: int | None = KEEP_SNAPSHOTS,
    on_commit: Callable[[WriteResult], None] | None = None,
) -> list[WriteResult]:
    """Land the stream's new records in `raw.clickstream_events`, from the last checkpoints.

    Args:
        settings: where the stream (embedded or Kinesis) and the catalog are.
        follow: False drains what is on the stream and returns; True keeps polling and
            commits as records arrive, until `stop` is set, `max_seconds` pass or Ctrl-C.
        run_id: recorded with every commit; `settings.run_id` or a timestamp when None.
        stop: set it (from another thread) to end follow mode; read records are committed.
        max_seconds: end follow mode after this long; read records are committed.
        poll_seconds: follow mode's wait between reads once caught up.
        flush_seconds: follow mode commits read records once the oldest has waited this
            long (and the reader is caught up); 0 commits every time it catches up.
        max_batch_records: records in one commit at most.
        keep_snapshots: follow mode expires all but this many newest snapshots of the
            table every `keep_snapshots` commits, so commits stay fast, and keeps those
            staging resumes from (`expire_history`; None: keep all).
        on_commit: called after each commit, e.g. to measure freshness.

    Returns:
        One result per commit. Ctrl-C ends follow mode without committing what was read
        since the last commit: the next run reads it again.

    Raises:
        StreamUnavailableError: the Kinesis endpoint does not answer.
        StreamMismatchError: the table's checkpoints are from another stream.
    """
    if max_batch_records < 1:
        raise ValueError(f"max_batch_records must be at least 1, got {max_batch_records}")
    run_id = run_id or settings.run_id or f"stream-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    catalog = open_catalog(settings)
    key = stream_key(settings)
    stream = open_stream(settings)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    results: list[WriteResult] = []

    def commit(batch: Batch) -> Batch:
        result = commit_batch(catalog, batch, key, run_id)
        results.append(result)
        log.info("committed %d records to %s (%s)", result.rows, result.table, result.batch_id)
        if on_commit is not None:
            on_commit(result)
        if follow and keep_snapshots and len(results) % keep_snapshots == 0:
            try:
                expired = expire_history(catalog, keep_snapshots)
                log.info("expired %d old snapshots of %s", expired, result.table)
            except CommitFailedException as exc:  # housekeeping: the next round tries again
                log.warning("could not expire snapshots of %s: %s", result.table, exc)
        return batch.next()

    try:
        table = ensure_table(catalog, raw.CLICKSTREAM_EVENTS)
        batch = Batch(dict(committed_positions(table, key)))
        shards = stream.shard_ids()
        shards_listed = time.monotonic()
        while True:
            room = max_batch_records - len(batch.records)
            caught_up = read_round(stream, shards, batch, room) == 0
            stopping = follow and (
                (stop is not None and stop.is_set())
                or (deadline is not None and time.monotonic() >= deadline)
            )
            if batch.records and (
                stopping
                or len(batch.records) >= max_batch_records
                or (caught_up and not follow)
                # Behind the stream, a follower keeps reading until the batch is full or
                # the flush interval is up: a 0 s interval then means "once caught up".
                or (follow and batch.age() >= flush_seconds and (caught_up or flush_seconds > 0))
            ):
                batch = commit(batch)
            if stopping or (caught_up and not follow):
                return results
            if not caught_up:
                continue
            wait = poll_seconds
            if deadline is not None:
                wait = max(min(wait, deadline - time.monotonic()), 0.0)
            if stop is not None:
                stop.wait(wait)
            else:
                time.sleep(wait)
            if time.monotonic() - shards_listed > SHARD_REFRESH_SECONDS:
                shards, shards_listed = stream.shard_ids(), time.monotonic()
    except KeyboardInterrupt:
        if not follow:
            raise
        return results
    finally:
        stream.close()


@task(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def ingest_clickstream(settings: Settings, run_id: str) -> list[WriteResult]:
    """Drain the clickstream into `raw.clickstream_events` (safe to retry: checkpoints)."""
    return consume(settings, follow=False, run_id=run_id)


@flow(name="ingest-stream")
def ingest_stream_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Land every record on the stream in the raw zone."""
    return ingest_clickstream(settings, run_id)
