"""The api_lookup workload at a small size: both servers answer every lookup, and the
synthetic world goes through the serving-copy builder whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from api.serving_copy import SERVED, build_serving_copy
from bench.runner import WorkloadContext, run_workload
from bench.workloads import api_lookup

pytestmark = pytest.mark.slow


def test_synthetic_curated_fits_the_marts_and_builds_a_copy(tmp_path: Path) -> None:
    curated = api_lookup.synthetic_curated(500, seed=1)
    for name, table in curated.tables.items():
        assert table.schema == SERVED[name].schema().as_arrow(), name
    info = build_serving_copy(curated, tmp_path / "c.sqlite")
    assert info.customers == 500
    with sqlite3.connect(info.path) as con:
        (email_keys,) = con.execute(
            "select count(distinct customer_key) from identifiers where kind = 'email'"
        ).fetchone()
    assert email_keys == 500


def test_every_variant_answers_every_lookup(tmp_path: Path) -> None:
    workload = api_lookup.WORKLOAD
    measurements = run_workload(
        api_lookup.Workload(
            name=workload.name,
            doc=workload.doc,
            baseline="iceberg_key_c2",
            default_rows=300,
            variants=lambda context: api_lookup.variants_for(
                WorkloadContext(300, context.seed, context.workdir),
                clients=(2,),
                requests=100,
                baseline_requests=4,
                warmup_requests=10,
            ),
        ),
        rows=300,
        repeats=1,
        warmup=0,
        workdir=tmp_path,
    )
    names = {m.variant for m in measurements}
    assert names == {
        f"{kind}_{lookup}_c2" for kind in ("iceberg", "serving") for lookup in api_lookup.LOOKUPS
    }
    for m in measurements:
        assert m.metrics["errors"] == 0, m.variant
        assert m.rows == (100 if m.variant.startswith("serving") else 4)
        assert 0 < m.metrics["p50_ms"] <= m.metrics["p95_ms"] <= m.metrics["p99_ms"]
