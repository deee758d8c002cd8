"""The `ingest_files` workload at tiny scale: both variants see every record of the drop."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.runner import run_workload, summarize
from bench.workloads import ingest_files
from c360.settings import Scale
from catalog.factory import open_catalog
from flows.ingest_files import VENDOR_FEEDS
from simulator.truth import read_manifest


def test_parse_and_ingest_count_every_record_of_the_day0_drop(tmp_path: Path) -> None:
    workload = dataclasses.replace(
        ingest_files.WORKLOAD,
        variants=lambda context: ingest_files.variants_for(Scale.TINY, context),
    )

    measurements = run_workload(workload, rows=1, repeats=2, warmup=0, workdir=tmp_path)

    world = tmp_path / "world"
    manifest = read_manifest(world / "sources" / "truth")
    emitted = int(manifest.filter(manifest["source"] == "vendor_files")["rows"].sum())
    assert {(m.variant, m.rows) for m in measurements} == {("parse", emitted), ("ingest", emitted)}
    assert [s.variant for s in summarize(measurements, "parse")] == ["parse", "ingest"]
    # The last ingest run left a lakehouse holding the drop exactly once.
    landing = str(world / "sources" / "landing")
    catalog = open_catalog(ingest_files.lakehouse_settings(landing, tmp_path / "lakehouse"))
    tables = [catalog.load_table(f.table.identifier_name) for f in VENDOR_FEEDS.values()]
    assert sum(t.scan().to_arrow().num_rows for t in tables) == emitted
