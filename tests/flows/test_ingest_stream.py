"""Ingest: the clickstream lands in raw exactly once per record, from the embedded stream and
a Kinesis endpoint on moto, across re-runs, crashes and in follow mode."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import flows.ingest_stream as ingest_stream
from c360.settings import REPO_ROOT, Settings, settings_env
from catalog.contracts import load_contracts
from catalog.factory import open_catalog
from catalog.tables import raw, staging
from catalog.writer import WriteResult
from flows.ingest_stream import (
    CHECKPOINT_PREFIX,
    StreamMismatchError,
    committed_positions,
    consume,
    events_frame,
    stream_key,
)
from flows.stage import STAGED, batches_since, consumed_snapshot, stage_table
from simulator.clock import day_start
from simulator.emitters.stream import StreamRecord, open_stream, read_shard
from simulator.sources import clickstream
from simulator.sources.clickstream import events_checksum
from simulator.truth import read_manifest
from simulator.world import simulate
from tests.flows.crm_source import table_rows

DAYS = 3
# Small batches, so a tiny world's day (~1,000 events) takes several commits.
BATCH = 300
WAIT_S = 60


class CrashError(RuntimeError):
    """Stands in for the process dying."""


@pytest.fixture(params=["embedded", pytest.param("kinesis", marks=pytest.mark.integration)])
def world(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """Settings for a tiny world (nothing simulated yet) on each stream backend."""
    if request.param == "kinesis":
        request.getfixturevalue("aws_credentials")
        endpoint = request.getfixturevalue("kinesis_endpoint")
        name = f"test-{uuid.uuid4().hex[:12]}"
        sources = {"stream": "kinesis", "stream_endpoint": endpoint, "stream_name": name}
        return make_settings(scale="tiny", sources=sources)
    return make_settings(scale="tiny")


@pytest.fixture
def tiny(make_settings: Callable[..., Settings]) -> Settings:
    """Settings for a tiny world on the embedded stream (nothing simulated yet)."""
    return make_settings(scale="tiny")


def _sent(settings: Settings, day: int, dataset: str = clickstream.DATASET) -> dict[str, Any]:
    """What the manifest says `day` put on the stream: rows and checksum."""
    manifest = read_manifest(settings.sources_dir / "truth").filter(
        pl.col("day") == day, pl.col("dataset") == dataset
    )
    return manifest.select("rows", "checksum").row(0, named=True)


def _raw(settings: Settings) -> pl.DataFrame:
    return table_rows(open_catalog(settings), raw.CLICKSTREAM_EVENTS)


def _on_stream(settings: Settings) -> pl.DataFrame:
    """Every record on the stream: its position (as raw records it) and payload."""
    stream = open_stream(settings)
    try:
        records = [r for shard in stream.shard_ids() for r in read_shard(stream, shard)]
    finally:
        stream.close()
    return pl.DataFrame(
        {
            "_source_position": [f"{r.shard_id}:{r.sequence_number}" for r in records],
            "payload": [r.data.decode() for r in records],
        },
        schema={"_source_position": pl.String, "payload": pl.String},
    )


def assert_every_record_once(settings: Settings) -> pl.DataFrame:
    """Raw holds each record on the stream exactly once, with its payload; returns raw."""
    landed = _raw(settings)
    expected = _on_stream(settings).sort("_source_position")
    assert landed["_source_position"].is_duplicated().sum() == 0
    assert landed.select(expected.columns).sort("_source_position").equals(expected)
    return landed


def _snapshots(settings: Settings) -> int:
    table = open_catalog(settings).load_table(raw.CLICKSTREAM_EVENTS.identifier_name)
    return len(table.snapshots())


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


# --- Reconciliation --------------------------------------------------------------------------


def test_every_day_lands_exactly_what_the_manifest_says_was_sent(world: Settings) -> None:
    for day in range(DAYS):
        simulate(world, days=min(day, 1))

        results = consume(world, follow=False, run_id=f"day-{day}", max_batch_records=BATCH)

        sent = _sent(world, day)
        landed = _raw(world).filter(pl.col("_batch_id").is_in([r.batch_id for r in results]))
        assert landed.height == sent["rows"] == sum(r.rows for r in results) > 0
        assert events_checksum(landed["payload"]) == sent["checksum"]
        # Duplicates stay: as many distinct events as the manifest's distinct count.
        assert (
            landed["event_id"].n_unique()
            == _sent(world, day, "clickstream.distinct_events")["rows"]
            < landed.height
        )
        if day > 0:
            # Yesterday's late events arrive today and land with today's.
            assert landed.filter(pl.col("event_at") < day_start(day)).height > 0
        # Batched: a commit per BATCH records, not per record.
        assert len(results) == math.ceil(sent["rows"] / BATCH)
        assert not any(r.skipped for r in results)
    assert_every_record_once(world)


def test_rerunning_after_a_drain_adds_nothing(world: Settings) -> None:
    simulate(world)
    first = consume(world, follow=False)
    snapshots = _snapshots(world)

    again = consume(world, follow=False)

    assert first
    assert again == []
    assert _snapshots(world) == snapshots
    assert_every_record_once(world)


def test_typed_columns_are_the_payloads_fields(tiny: Settings) -> None:
    simulate(tiny)
    consume(tiny, follow=False)

    landed = _raw(tiny)
    decoded = (
        landed["payload"]
        .str.json_decode(pl.Struct(dict.fromkeys(clickstream.EVENT_FIELDS, pl.String)))
        .struct.unnest()
        .with_columns(pl.col("event_at").str.to_datetime(time_zone="UTC", time_unit="us"))
    )
    assert landed.select(clickstream.EVENT_FIELDS).equals(decoded)
    assert landed["partition_key"].equals(landed["device_id"], check_names=False)
    assert landed["_source"].unique().to_list() == [clickstream.DATASET]
    assert landed["_source_position"].str.contains(r"^shardId-\d{12}:\d+$").all()
    assert landed["arrived_at"].null_count() == landed["_ingested_at"].null_count() == 0
    assert (landed["arrived_at"] <= landed["_ingested_at"]).all()


def test_checkpoints_are_in_the_snapshot_that_holds_the_data(world: Settings) -> None:
    simulate(world)

    results = consume(world, follow=False, max_batch_records=BATCH)

    table = open_catalog(world).load_table(raw.CLICKSTREAM_EVENTS.identifier_name)
    stream = _on_stream(world).with_columns(
        pl.col("_source_position").str.split_exact(":", 1).struct.unnest()
    )
    last = stream.group_by("field_0").agg(pl.col("field_1").last())
    assert committed_positions(table, stream_key(world)) == dict(last.iter_rows())
    for result in results:
        snapshot = table.snapshot_by_id(result.snapshot_id or -1)
        assert snapshot is not None
        assert snapshot.summary is not None
        # Each commit's checkpoints cover exactly the records committed up to it.
        through = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()["_source_position"]
        newest: dict[str, int] = {}
        for shard, sequence in (p.split(":") for p in through.to_pylist()):
            newest[shard] = max(newest.get(shard, 0), int(sequence))
        checkpoints = {
            k.removeprefix(CHECKPOINT_PREFIX): int(v)
            for k, v in snapshot.summary.additional_properties.items()
            if k.startswith(CHECKPOINT_PREFIX)
        }
        assert checkpoints == newest


def test_checkpoints_from_another_stream_are_refused_in_one_line(
    tiny: Settings, make_settings: Callable[..., Settings]
) -> None:
    simulate(tiny)
    consume(tiny, follow=False)
    other = make_settings(scale="tiny", sources={"stream_name": "another-stream"})

    with pytest.raises(StreamMismatchError, match="another-stream") as raised:
        consume(other, follow=False)

    assert "\n" not in str(raised.value)


# --- Crashes -------------------------------------------------------------------------------


@pytest.mark.parametrize("crash", ["before_commit", "after_commit"])
def test_a_crash_around_a_commit_ends_with_every_record_once(
    tiny: Settings, crash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulate(tiny)
    real_write = ingest_stream.write
    calls = 0

    def crashing_write(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            if crash == "after_commit":
                real_write(*args, **kwargs)
            raise CrashError(crash)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(ingest_stream, "write", crashing_write)
    with pytest.raises(CrashError):
        consume(tiny, follow=False, max_batch_records=BATCH)
    assert 0 < _raw(tiny).height < _sent(tiny, 0)["rows"]
    monkeypatch.setattr(ingest_stream, "write", real_write)

    consume(tiny, follow=False, max_batch_records=BATCH)

    landed = assert_every_record_once(tiny)
    assert landed.height == _sent(tiny, 0)["rows"]
    assert events_checksum(landed["payload"]) == _sent(tiny, 0)["checksum"]


KILLED_CONSUMER = """
import sys, time
from pathlib import Path

import flows.ingest_stream as ingest_stream
from c360.settings import load_settings

marker, when, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
real_write = ingest_stream.write
calls = 0


def write(*args, **kwargs):
    global calls
    calls += 1
    if calls == 2:
        if when == "after_commit":
            real_write(*args, **kwargs)
        marker.write_text(when)
        time.sleep(600)  # SIGKILLed here, with the second batch read
    return real_write(*args, **kwargs)


ingest_stream.write = write
ingest_stream.consume(load_settings(), follow=False, max_batch_records=batch)
"""


@pytest.mark.parametrize("killed", ["before_commit", "after_commit"])
def test_a_consumer_killed_mid_batch_resumes_with_every_record_once(
    tiny: Settings, killed: str, tmp_path: Path
) -> None:
    simulate(tiny)
    marker = tmp_path / "killed-here"
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env |= settings_env(tiny) | {"PYTHONPATH": str(REPO_ROOT)}
    consumer = subprocess.Popen(
        [sys.executable, "-c", KILLED_CONSUMER, str(marker), killed, str(BATCH)],
        cwd=tmp_path,
        env=env,
    )
    try:
        _wait_for(lambda: marker.exists() or consumer.poll() is not None, "the second batch")
        assert consumer.poll() is None, f"the consumer exited early ({consumer.returncode})"
    finally:
        consumer.kill()
        consumer.wait(timeout=30)
    committed = _raw(tiny).height
    assert committed == BATCH * (2 if killed == "after_commit" else 1)

    consume(tiny, follow=False, max_batch_records=BATCH)

    landed = assert_every_record_once(tiny)
    assert landed.height == _sent(tiny, 0)["rows"]


# --- Follow mode ---------------------------------------------------------------------------


@pytest.fixture
def follower(tiny: Settings) -> Iterator[tuple[threading.Event, list[Any]]]:
    """`consume(follow=True)` in a thread, started (its table created) before the test runs;
    yields its stop event and, once stopped, its results (or its exception)."""
    stop = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.extend(consume(tiny, follow=True, stop=stop, poll_seconds=0.1))
        except Exception as exc:  # handed to the test
            outcome.append(exc)

    # Opened first: two threads creating a new SQLite catalog at once race on its tables.
    catalog = open_catalog(tiny)
    thread = threading.Thread(target=run, name="follower")
    thread.start()
    try:
        _wait_for(
            lambda: catalog.table_exists(raw.CLICKSTREAM_EVENTS.identifier_name) or outcome != [],
            "the follower to start",
        )
        yield stop, outcome
    finally:
        stop.set()
        thread.join(timeout=WAIT_S)
    assert not thread.is_alive()


def test_follow_mode_lands_records_put_after_it_started(
    tiny: Settings, follower: tuple[threading.Event, list[Any]]
) -> None:
    stop, outcome = follower
    landed_total = 0
    for day in range(2):
        simulate(tiny, days=day)
        landed_total += _sent(tiny, day)["rows"]
        _wait_for(lambda: _raw(tiny).height >= landed_total, f"day {day} to land")  # noqa: B023

    stop.set()
    _wait_for(lambda: outcome != [], "the follower to stop")
    assert not any(isinstance(o, Exception) for o in outcome), outcome
    landed = assert_every_record_once(tiny)
    assert landed.height == landed_total
    assert len(outcome) >= 2  # a commit (at least) per day


def test_follow_mode_stops_after_max_seconds_with_what_it_read_committed(tiny: Settings) -> None:
    simulate(tiny)
    started = time.monotonic()

    results = consume(tiny, follow=True, max_seconds=1.0, poll_seconds=0.2)

    assert 1.0 <= time.monotonic() - started < 10
    assert sum(r.rows for r in results) == _sent(tiny, 0)["rows"]
    assert_every_record_once(tiny)


def test_follow_mode_expiry_keeps_the_raw_snapshot_staging_resumes_from(tiny: Settings) -> None:
    simulate(tiny)
    consume(tiny, follow=False, max_batch_records=BATCH)  # day 0: a few snapshots
    catalog = open_catalog(tiny)
    staged = STAGED[staging.CLICKSTREAM_EVENTS.name]
    stage_table(catalog, staged, load_contracts()[staged.feed], run_id="stage-day-0")
    pin = consumed_snapshot(catalog.load_table(staged.target.identifier_name))
    raw_name = raw.CLICKSTREAM_EVENTS.identifier_name
    before_pin = {s.snapshot_id for s in catalog.load_table(raw_name).snapshots()} - {pin}
    assert pin is not None
    assert before_pin
    simulate(tiny, days=1)
    stop = threading.Event()
    commits: list[WriteResult] = []

    def stop_after_four(result: WriteResult) -> None:
        commits.append(result)
        if len(commits) == 4:
            stop.set()

    # Keeping the 2 newest, every 2 commits: the staged snapshot is expired by count twice.
    results = consume(
        tiny,
        follow=True,
        stop=stop,
        poll_seconds=0.1,
        max_batch_records=100,
        keep_snapshots=2,
        on_commit=stop_after_four,
    )

    table = catalog.load_table(raw_name)
    kept = {s.snapshot_id for s in table.snapshots()}
    assert len(results) >= 4
    assert not kept & before_pin  # expiry ran: the snapshots before the staged one went
    assert pin in kept
    # The next staging run starts after the staged snapshot: it reads only the new batches.
    assert batches_since(table, pin) == {r.batch_id for r in results}


# --- Records as rows -------------------------------------------------------------------------


def _record(data: bytes, sequence: int = 1) -> StreamRecord:
    return StreamRecord(
        "shardId-000000000000", f"{sequence:020d}", "device-1", data, datetime.now(UTC)
    )


def test_records_that_are_not_the_expected_json_keep_their_payload() -> None:
    event = {"event_id": "e1", "event_type": "search", "event_at": "2026-01-01T10:00:00.250Z"}
    records = [
        _record(json.dumps({**event, "referrer": "email"}).encode(), 1),  # a new field
        _record(json.dumps({**event, "product_id": 17}).encode(), 2),  # a retyped field
        _record(b'{"event_id": "e3", "event_at": "yesterday"}', 3),  # an unreadable time
        _record(b'{"event_id": "e4", truncated', 4),
        _record(b"[1, 2]", 5),
        _record(b'{"event_id": "e6\xff"}', 6),  # not UTF-8
    ]

    frame = events_frame(records, batch_id="b", ingested_at=datetime.now(UTC))

    assert frame["payload"].to_list()[:5] == [r.data.decode() for r in records[:5]]
    assert frame["payload"][5] == '{"event_id": "e6\\xff"}'
    # The escaped byte is not valid JSON: the typed columns stay empty, the payload keeps it.
    assert frame["event_id"].to_list() == ["e1", "e1", "e3", None, None, None]
    assert frame["product_id"].to_list() == [None, "17", None, None, None, None]
    assert frame["event_at"].to_list() == [
        datetime(2026, 1, 1, 10, 0, 0, 250_000, tzinfo=UTC),
        datetime(2026, 1, 1, 10, 0, 0, 250_000, tzinfo=UTC),
        None,
        None,
        None,
        None,
    ]
    assert frame["_source_position"].to_list() == [
        f"shardId-000000000000:{i:020d}" for i in range(1, 7)
    ]
