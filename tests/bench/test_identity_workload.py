"""The `identity` workload at tiny scale: both variants resolve every record, and c360
merges no worse than the email-only baseline while finding more of the true pairs."""

from __future__ import annotations

from pathlib import Path

from bench.runner import run_workload, summarize
from bench.workloads import identity
from c360.settings import Scale
from simulator.truth import read_records
from transforms.identity.records import STAGING_TABLES


def test_c360_and_the_baseline_resolve_the_same_records_and_c360_scores_higher(
    tmp_path: Path,
) -> None:
    workload = identity.workload(Scale.TINY)

    measurements = run_workload(workload, rows=1, repeats=1, warmup=0, workdir=tmp_path)

    summaries = {s.variant: s for s in summarize(measurements, identity.BASELINE)}
    assert set(summaries) == {"email_only", "c360"}
    truth = read_records(tmp_path / "tiny" / "sources" / "truth")
    # Every record the simulator emitted for an identity source is resolved, by both.
    assert summaries["c360"].rows == summaries["email_only"].rows == truth.height
    c360, baseline = summaries["c360"].metrics, summaries["email_only"].metrics
    scopes = ["all", *sorted(STAGING_TABLES)]
    for metrics in (c360, baseline):
        for scope in scopes:
            for short in ("p", "r", "f1"):
                assert 0 <= metrics[f"{scope}_{short}%"] <= 100
        assert 0 < metrics["persons"] <= truth.height
    assert baseline["unresolved"] == baseline["anonymous"] == 0
    assert c360["unresolved"] + c360["anonymous"] < truth.height
    assert c360["all_p%"] >= baseline["all_p%"]
    assert c360["all_r%"] > baseline["all_r%"]
    assert c360["all_f1%"] > baseline["all_f1%"]
    # On the records c360 identifies (the same for both), the goal holds and the gap shows.
    assert c360["id_all_p%"] >= 99
    assert c360["id_all_f1%"] >= 98 > baseline["id_all_f1%"]
