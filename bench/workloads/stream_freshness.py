"""Stream freshness: seconds from an event's put on the stream until `raw` shows it, for the
consumer's follow mode vs a Firehose-like consumer that buffers 60 s.

Each run starts from a fresh embedded stream and catalog. The consumer runs in a process of
its own (this module's `main`), started and warmed up before the clock; the bench process is
the producer: it puts `rows` events at `RATE` a second (a put every `PUT_INTERVAL_S`) and
notes each one's put time. The consumer logs the wall-clock time each of its commits
returned, from when on any reader sees the rows. An event's latency is that time for the
commit that holds it minus its put time. A run reports the p50, p95, p99 and max latency
over all its events (seconds) and the commits made; it fails if any event landed other than
once. Its rows/s is the producer's steady rate, not a capacity.

- `firehose_60s` (baseline): `consume(follow=True, flush_seconds=60)`: Firehose's smallest
  buffer interval (its default is 300 s). The default `rows` are 60 s of events, so the one
  buffer spans the run evenly, as in a steady state.
- `follow`: `consume(follow=True)` with its defaults, what `c360 ingest stream --follow` runs.

`python -m bench stream_freshness --repeats 1 --warmup 0` takes about 2.5 minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.runner import Outcome, Step, Variant, Workload, WorkloadContext
from c360.settings import CatalogSettings, ProfileName, Settings, SourceSettings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import raw
from catalog.writer import WriteResult
from simulator.emitters.stream import Stream, open_stream

RATE = 200  # events a second
PUT_INTERVAL_S = 0.1
FIREHOSE_BUFFER_S = 60.0
SHARDS = 2
DEVICES = 500
PERCENTILES = (50, 95, 99)
START_TIMEOUT_S = 120.0
# How long after the last put every event must have landed, beyond the consumer's buffer.
DRAIN_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
READY = "ready"


def bench_settings(home: Path) -> Settings:
    """A SQLite catalog, local warehouse and embedded stream under `home`, whatever the
    environment says."""
    home = home.resolve()
    return Settings(
        home=home,
        profile=ProfileName.LOCAL,
        catalog=CatalogSettings(
            type="sql", uri=f"sqlite:///{home}/catalog.db", warehouse=f"file://{home}/warehouse"
        ),
        sources=SourceSettings(stream="embedded", stream_shards=SHARDS),
    )


def variants_for(
    context: WorkloadContext, *, rate: float = RATE, buffer_s: float = FIREHOSE_BUFFER_S
) -> list[Variant]:
    """The Firehose-like baseline buffering `buffer_s` and follow mode, producing at `rate`."""
    return [
        _variant(f"firehose_{buffer_s:g}s", buffer_s, rate, context),
        _variant("follow", None, rate, context),
    ]


def _variant(name: str, flush_s: float | None, rate: float, context: WorkloadContext) -> Variant:
    root = context.workdir / name

    def prepare() -> Step:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        settings = bench_settings(root)
        ensure_table(open_catalog(settings), raw.CLICKSTREAM_EVENTS)
        stream = open_stream(settings)
        commits = root / "commits.jsonl"
        consumer = _start_consumer(root, commits, flush_s)
        timeout = (flush_s or 0.0) + DRAIN_TIMEOUT_S

        def step() -> Outcome:
            try:
                put_at = produce(stream, context.rows, rate)
                _wait_until_landed(commits, context.rows, consumer, timeout)
            finally:
                _stop(consumer)
                stream.close()
            if consumer.returncode != 0:
                raise RuntimeError(f"the consumer exited with {consumer.returncode} on Ctrl-C")
            return latency_outcome(settings, commits, put_at)

        return step

    return Variant(name, prepare)


def produce(stream: Stream, rows: int, rate: float) -> dict[str, float]:
    """Put `rows` clickstream-like events at `rate` a second; return each one's put time."""
    put_at: dict[str, float] = {}
    devices = [str(uuid.uuid4()) for _ in range(DEVICES)]
    started = time.monotonic()
    tick = 0
    while len(put_at) < rows:
        tick += 1
        due = min(rows, round(tick * PUT_INTERVAL_S * rate))
        events = [_event(devices[i % DEVICES]) for i in range(len(put_at), due)]
        now = time.time()
        stream.put_records([(e["device_id"], json.dumps(e).encode()) for e in events])
        put_at |= {e["event_id"]: now for e in events}
        time.sleep(max(started + tick * PUT_INTERVAL_S - time.monotonic(), 0.0))
    return put_at


def _event(device_id: str) -> dict[str, str]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "page_view",
        "event_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z",
        "device_id": device_id,
        "session_id": device_id,
        "page": "/",
    }


def latency_outcome(settings: Settings, commits: Path, put_at: dict[str, float]) -> Outcome:
    """Each event's put-to-visible latency, summarised.

    Raises:
        RuntimeError: an event landed twice, or not at all.
    """
    visible = {c["batch_id"]: c["visible_at"] for c in _read_commits(commits)}
    table = open_catalog(settings).load_table(raw.CLICKSTREAM_EVENTS.identifier_name)
    landed = table.scan(selected_fields=("event_id", "_batch_id")).to_arrow().to_pylist()
    ids = [row["event_id"] for row in landed]
    if len(ids) != len(put_at) or set(ids) != set(put_at):
        raise RuntimeError(
            f"{len(put_at)} events put, {len(ids)} landed ({len(set(ids))} distinct): "
            "the consumer lost or duplicated records"
        )
    latencies = np.array([visible[row["_batch_id"]] - put_at[row["event_id"]] for row in landed])
    metrics = {f"p{p}_s": float(np.percentile(latencies, p)) for p in PERCENTILES}
    return Outcome(
        len(ids), {**metrics, "max_s": float(latencies.max()), "commits": float(len(visible))}
    )


def _start_consumer(root: Path, commits: Path, flush_s: float | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    command = [sys.executable, "-m", __name__, str(root), str(commits)]
    if flush_s is not None:
        command.append(str(flush_s))
    consumer = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    assert consumer.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while consumer.stdout.readline().strip() != READY:
        if consumer.poll() is not None or time.monotonic() > deadline:
            _stop(consumer)
            raise RuntimeError(f"the consumer did not start (exit status {consumer.returncode})")
    return consumer


def _wait_until_landed(
    commits: Path, rows: int, consumer: subprocess.Popen[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while sum(c["rows"] for c in _read_commits(commits)) < rows:
        if consumer.poll() is not None:
            raise RuntimeError(f"the consumer exited with status {consumer.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every event landed within {timeout:g} s of the last put")
        time.sleep(0.05)


def _stop(consumer: subprocess.Popen[str]) -> None:
    """Ctrl-C the consumer, as a user would; kill it if it does not stop."""
    if consumer.poll() is None:
        consumer.send_signal(signal.SIGINT)
        try:
            consumer.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait()
    if consumer.stdout is not None:
        consumer.stdout.close()


def _read_commits(commits: Path) -> list[dict[str, Any]]:
    if not commits.exists():
        return []
    lines = commits.read_text().splitlines()
    # The last line may be half-written while the consumer appends it.
    return [json.loads(line) for line in lines if line.endswith("}")]


def main(argv: Sequence[str] | None = None) -> int:
    """The consumer process: `python -m bench.workloads.stream_freshness HOME LOG [FLUSH_S]`.

    Follows the stream under HOME until Ctrl-C, appending each commit's batch id, rows and
    wall-clock time to LOG (JSON lines).
    """
    from flows.ingest_stream import FLUSH_SECONDS, consume

    args = list(sys.argv[1:] if argv is None else argv)
    settings = bench_settings(Path(args[0]))
    flush_s = float(args[2]) if len(args) > 2 else FLUSH_SECONDS
    open_catalog(settings).load_table(raw.CLICKSTREAM_EVENTS.identifier_name)  # warm up
    with Path(args[1]).open("a") as log:

        def record(result: WriteResult) -> None:
            entry = {"batch_id": result.batch_id, "rows": result.rows, "visible_at": time.time()}
            log.write(json.dumps(entry) + "\n")
            log.flush()

        print(READY, flush=True)
        consume(settings, follow=True, flush_seconds=flush_s, on_commit=record)
    return 0


WORKLOAD = Workload(
    name="stream_freshness",
    doc=(
        f"put-to-visible seconds (p50/p95/p99) at {RATE} events/s: follow mode vs a "
        f"Firehose-like {FIREHOSE_BUFFER_S:g} s buffer"
    ),
    baseline=f"firehose_{FIREHOSE_BUFFER_S:g}s",
    default_rows=int(RATE * FIREHOSE_BUFFER_S),
    variants=variants_for,
)


if __name__ == "__main__":
    sys.exit(main())
