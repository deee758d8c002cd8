"""The `ingest_stream` workload at tiny scale: both variants see every record on the stream."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl

from bench.runner import run_workload, summarize
from bench.workloads import ingest_stream
from c360.settings import ProfileName, Scale, Settings
from catalog.factory import open_catalog
from catalog.tables import raw
from simulator.sources import clickstream
from simulator.truth import read_manifest


def test_read_and_ingest_count_every_record_on_the_stream(tmp_path: Path) -> None:
    workload = dataclasses.replace(
        ingest_stream.WORKLOAD,
        variants=lambda context: ingest_stream.variants_for(Scale.TINY, context),
    )

    measurements = run_workload(workload, rows=1, repeats=2, warmup=0, workdir=tmp_path)

    manifest = read_manifest(tmp_path / "world" / "sources" / "truth")
    sent = int(manifest.filter(pl.col("dataset") == clickstream.DATASET)["rows"].sum())
    assert {(m.variant, m.rows) for m in measurements} == {
        ("read_stream", sent),
        ("ingest_stream", sent),
    }
    assert [s.variant for s in summarize(measurements, "read_stream")] == [
        "read_stream",
        "ingest_stream",
    ]
    # The last ingest run left a lakehouse holding the stream exactly once.
    world = Settings(home=tmp_path / "world", profile=ProfileName.LOCAL, scale=Scale.TINY)
    settings = ingest_stream.lakehouse_settings(world, tmp_path / "lakehouse")
    table = open_catalog(settings).load_table(raw.CLICKSTREAM_EVENTS.identifier_name)
    positions = table.scan(selected_fields=("_source_position",)).to_arrow()["_source_position"]
    assert len(positions) == len(set(positions.to_pylist())) == sent
