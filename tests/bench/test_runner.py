"""The benchmark harness on a fake workload with a fake clock, and `landing` at a tiny size."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench import workloads
from bench.cli import main
from bench.runner import (
    Measurement,
    Outcome,
    Step,
    Variant,
    Workload,
    WorkloadContext,
    format_table,
    run_workload,
    summarize,
    write_results,
)
from bench.workloads import available, landing, simulate


class FakeClock:
    """A clock that only moves when a fake step says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fake_workload(clock: FakeClock, seconds: dict[str, float], log: list[str]) -> Workload:
    """Variants that take exactly `seconds[name]` on `clock`, logging every call."""

    def variants(context: WorkloadContext) -> list[Variant]:
        def make(name: str) -> Variant:
            def prepare() -> Step:
                log.append(f"prepare {name}")

                def step() -> int:
                    log.append(f"run {name}")
                    clock.now += seconds[name]
                    return context.rows

                return step

            return Variant(name, prepare)

        return [make(name) for name in seconds]

    return Workload("fake", "a fake workload", "base", 10, variants)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_run_workload_warms_up_then_interleaves_rotating_order(tmp_path: Path) -> None:
    clock, log = FakeClock(), list[str]()
    workload = fake_workload(clock, {"base": 1.0, "fast": 0.5, "slow": 4.0}, log)

    measurements = run_workload(workload, rows=10, repeats=3, workdir=tmp_path, clock=clock)

    runs = [entry.removeprefix("run ") for entry in log if entry.startswith("run ")]
    assert runs == [
        *("base", "fast", "slow"),  # warm-up, untimed
        *("base", "fast", "slow"),
        *("fast", "slow", "base"),
        *("slow", "base", "fast"),
    ]
    assert [(m.variant, m.repeat) for m in measurements] == [
        ("base", 1), ("fast", 1), ("slow", 1),
        ("fast", 2), ("slow", 2), ("base", 2),
        ("slow", 3), ("base", 3), ("fast", 3),
    ]  # fmt: skip
    assert {m.variant: m.seconds for m in measurements} == {"base": 1.0, "fast": 0.5, "slow": 4.0}
    assert all(m.rows == 10 and m.workload == "fake" for m in measurements)


def test_summary_ratios_are_against_the_baseline() -> None:
    clock, log = FakeClock(), list[str]()
    workload = fake_workload(clock, {"slow": 4.0, "base": 2.0, "fast": 0.5}, log)
    measurements = run_workload(workload, rows=1000, repeats=3, warmup=0, clock=clock)

    summaries = {s.variant: s for s in summarize(measurements, "base")}

    assert list(summaries) == ["slow", "base", "fast"]
    assert summaries["base"].is_baseline
    assert not summaries["slow"].is_baseline
    assert summaries["base"].median_rows_per_s == pytest.approx(500.0)
    assert summaries["base"].ratio_rows_per_s == pytest.approx(1.0)
    assert summaries["slow"].ratio_rows_per_s == pytest.approx(0.5)
    assert summaries["slow"].ratio_seconds == pytest.approx(2.0)
    assert summaries["fast"].ratio_rows_per_s == pytest.approx(4.0)
    assert summaries["fast"].ratio_seconds == pytest.approx(0.25)
    assert all(s.repeats == 3 and s.rows == 1000 for s in summaries.values())


def test_summary_takes_medians_not_means() -> None:
    seconds = {"base": [1.0, 9.0, 2.0], "cand": [3.0, 3.0, 30.0]}
    measurements = [
        Measurement("w", name, repeat, s, 60)
        for name, runs in seconds.items()
        for repeat, s in enumerate(runs, start=1)
    ]

    summaries = {s.variant: s for s in summarize(measurements, "base")}

    assert summaries["base"].median_seconds == 2.0
    assert summaries["cand"].median_seconds == 3.0
    assert summaries["cand"].ratio_seconds == pytest.approx(1.5)
    assert summaries["cand"].median_rows_per_s == pytest.approx(20.0)
    assert summaries["cand"].ratio_rows_per_s == pytest.approx(20.0 / 30.0)


def test_summary_without_baseline_measurements_is_an_error() -> None:
    with pytest.raises(ValueError, match="baseline variant 'base'"):
        summarize([Measurement("w", "cand", 1, 1.0, 1)], "base")


def test_workload_whose_baseline_is_not_a_variant_is_rejected(tmp_path: Path) -> None:
    clock = FakeClock()
    workload = fake_workload(clock, {"a": 1.0, "b": 1.0}, [])

    with pytest.raises(ValueError, match="baseline 'base' is not a variant"):
        run_workload(workload, rows=1, repeats=1, workdir=tmp_path, clock=clock)


def test_results_csv_has_one_row_per_variant_and_repeat(tmp_path: Path) -> None:
    clock = FakeClock()
    workload = fake_workload(clock, {"base": 2.0, "cand": 1.0}, [])
    measurements = run_workload(workload, rows=100, repeats=3, clock=clock)

    runs_path, summary_path = write_results(
        tmp_path, "fake", measurements, summarize(measurements, "base")
    )

    runs = read_csv(runs_path)
    assert runs_path == tmp_path / "fake.csv"
    assert list(runs[0]) == ["workload", "variant", "repeat", "seconds", "rows", "rows_per_s"]
    assert sorted((r["variant"], int(r["repeat"])) for r in runs) == [
        ("base", 1), ("base", 2), ("base", 3), ("cand", 1), ("cand", 2), ("cand", 3),
    ]  # fmt: skip
    for row in runs:
        assert float(row["seconds"]) == {"base": 2.0, "cand": 1.0}[row["variant"]]
        assert int(row["rows"]) == 100
        assert float(row["rows_per_s"]) == pytest.approx(100 / float(row["seconds"]))
    summary = {r["variant"]: r for r in read_csv(summary_path)}
    assert summary["base"]["is_baseline"] == "True"
    assert float(summary["base"]["ratio_rows_per_s"]) == 1.0
    assert float(summary["cand"]["ratio_rows_per_s"]) == pytest.approx(2.0)
    assert float(summary["cand"]["ratio_seconds"]) == pytest.approx(0.5)


def test_step_metrics_become_columns_and_summaries_take_their_median(tmp_path: Path) -> None:
    latencies = iter([3.0, 1.0, 2.0, 9.0, 8.0, 7.0])

    def variants(context: WorkloadContext) -> list[Variant]:
        def prepare() -> Step:
            return lambda: Outcome(context.rows, {"p95_s": next(latencies)})

        return [Variant("base", prepare), Variant("cand", prepare)]

    workload = Workload("lat", "metrics", "base", 5, variants)
    measurements = run_workload(workload, rows=5, repeats=3, warmup=0)
    summaries = summarize(measurements, "base")

    runs_path, summary_path = write_results(tmp_path, "lat", measurements, summaries)

    # Rounds rotate: base, cand | cand, base | base, cand.
    assert {s.variant: dict(s.metrics) for s in summaries} == {
        "base": {"p95_s": 8.0},  # of 3, 9, 8
        "cand": {"p95_s": 2.0},  # of 1, 2, 7
    }
    runs = read_csv(runs_path)
    assert list(runs[0]) == [
        *("workload", "variant", "repeat", "seconds", "rows", "rows_per_s", "p95_s"),
    ]
    assert [float(r["p95_s"]) for r in runs] == [3.0, 1.0, 2.0, 9.0, 8.0, 7.0]
    assert {r["variant"]: float(r["p95_s"]) for r in read_csv(summary_path)} == {
        "base": 8.0,
        "cand": 2.0,
    }
    assert "p95_s" in format_table(summaries)


def test_cli_runs_named_workload_prints_table_and_writes_csvs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    registry = {"fake": fake_workload(clock, {"base": 1.0, "cand": 1.0}, [])}

    status = main(["fake", "--repeats", "2", "--rows", "7", "--out", str(tmp_path)], registry)

    assert status == 0
    out = capsys.readouterr().out
    assert "7 rows, 1 warm-up + 2 timed runs per variant, baseline base" in out
    assert "base *" in out
    assert "cand" in out
    rows = read_csv(tmp_path / "fake.csv")
    assert len(rows) == 4
    assert {r["rows"] for r in rows} == {"7"}


def test_cli_lists_workloads_and_rejects_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    assert "landing" in capsys.readouterr().out

    with pytest.raises(SystemExit) as exit_info:
        main(["no_such_workload"])
    assert exit_info.value.code == 2
    assert "unknown workload(s) ['no_such_workload']" in capsys.readouterr().err


def test_registry_finds_every_workload_module() -> None:
    # Each module's workload is named after it; adding one needs no change here.
    package = Path(workloads.__file__).parent
    modules = sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")
    found = available()
    assert list(found) == modules
    assert found["landing"] is landing.WORKLOAD
    assert found["simulate"] is simulate.WORKLOAD


def test_landing_writes_every_row_into_iceberg_and_reports_both_engines(tmp_path: Path) -> None:
    rows = 10_000
    workdir = tmp_path / "work"
    measurements = run_workload(landing.WORKLOAD, rows=rows, repeats=1, warmup=0, workdir=workdir)
    _, summary_path = write_results(
        tmp_path / "results", "landing", measurements, summarize(measurements, "pyarrow")
    )

    csv_rows = read_csv(tmp_path / "results" / "landing.csv")
    assert {r["variant"] for r in csv_rows} == {"pyarrow", "iceberg", "iceberg_day"}
    assert all(int(r["rows"]) == rows and float(r["seconds"]) > 0 for r in csv_rows)
    ratios = {r["variant"]: float(r["ratio_rows_per_s"]) for r in read_csv(summary_path)}
    assert ratios["pyarrow"] == 1.0
    assert math.isfinite(ratios["iceberg"])

    parquet = pq.read_table(landing.variant_dir(workdir, "pyarrow") / "events.parquet")
    assert parquet.num_rows == rows
    for variant, definition in (
        ("iceberg", landing.EVENTS),
        ("iceberg_day", landing.EVENTS_BY_DAY),
    ):
        catalog = landing.open_local_catalog(landing.variant_dir(workdir, variant))
        table = catalog.load_table(definition.identifier_name)
        scanned = table.scan().to_arrow()
        assert scanned.num_rows == rows
        # Both engines wrote the same data.
        assert scanned.sort_by("event_id").equals(parquet.sort_by("event_id"))
    by_day = catalog.load_table(landing.EVENTS_BY_DAY.identifier_name)
    assert len(by_day.inspect.partitions()) == landing.DAYS


def test_generated_events_are_deterministic_and_fit_the_table() -> None:
    first = landing.generate_events(500, seed=7)

    assert first.equals(landing.generate_events(500, seed=7))
    assert not first.equals(landing.generate_events(500, seed=8))
    assert first.schema.equals(landing.EVENTS.schema().as_arrow())
    assert first.num_columns == 10
    assert pc.max(first["event_id"]).as_py() == 499
