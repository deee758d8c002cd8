"""The `stream_freshness` workload, short: every event lands once and both consumers report
their latencies, the buffering one later than follow mode."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.runner import run_workload, summarize
from bench.workloads import stream_freshness
from catalog.factory import open_catalog
from catalog.tables import raw

RATE = 100
BUFFER_S = 3.0


def test_follow_mode_beats_a_buffering_consumer_and_lands_every_event_once(
    tmp_path: Path,
) -> None:
    workload = dataclasses.replace(
        stream_freshness.WORKLOAD,
        baseline=f"firehose_{BUFFER_S:g}s",
        variants=lambda context: stream_freshness.variants_for(
            context, rate=RATE, buffer_s=BUFFER_S
        ),
    )

    measurements = run_workload(workload, rows=200, repeats=1, warmup=0, workdir=tmp_path)

    summaries = {s.variant: s for s in summarize(measurements, workload.baseline)}
    assert set(summaries) == {"firehose_3s", "follow"}
    for summary in summaries.values():
        assert summary.rows == 200
        assert 0 < summary.metrics["p50_s"] <= summary.metrics["p95_s"]
        assert summary.metrics["p95_s"] <= summary.metrics["p99_s"] <= summary.metrics["max_s"]
    buffered, follow = summaries["firehose_3s"].metrics, summaries["follow"].metrics
    # The buffer holds the first events BUFFER_S before its one commit; follow commits often.
    assert buffered["max_s"] >= BUFFER_S - 1
    assert buffered["commits"] <= 2 < follow["commits"]
    assert follow["p50_s"] < buffered["p50_s"]
    # The follow run's lakehouse holds each event once (the workload checks it too).
    settings = stream_freshness.bench_settings(tmp_path / "follow")
    table = open_catalog(settings).load_table(raw.CLICKSTREAM_EVENTS.identifier_name)
    event_ids = table.scan(selected_fields=("event_id",)).to_arrow()["event_id"]
    assert len(event_ids) == len(set(event_ids.to_pylist())) == 200
