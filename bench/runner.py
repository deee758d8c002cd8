"""Time a workload's variants side by side and report each one's ratio to the baseline.

A workload offers named variants of the same job (a baseline and one or more candidates).
They run interleaved in one process: a warm-up round, then `repeats` timed rounds, each
round running every variant once in a rotated order, so drift in the machine (other load,
page cache, thermal) lands on all variants alike. Ratios to the baseline are the result
worth reporting; absolute seconds only describe this machine at this moment.

A step that measures more than its rows (a latency distribution, say) returns an `Outcome`
whose named metrics become extra CSV columns, summarised by their median over the repeats.
"""

from __future__ import annotations

import csv
import gc
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Outcome:
    """What a step returns when rows are not all it measured.

    Args:
        rows: how many rows it processed.
        metrics: further figures by name (e.g. `p95_s`), reported next to the timing.
    """

    rows: int
    metrics: Mapping[str, float] = field(default_factory=dict)


Step = Callable[[], int | Outcome]
"""The timed part of one variant run; returns how many rows it processed (or an Outcome)."""

Clock = Callable[[], float]


@dataclass(frozen=True)
class WorkloadContext:
    """What a workload's variants are built from.

    Args:
        rows: how many rows each variant processes.
        seed: the seed for any generated data, so every run times the same input.
        workdir: a scratch directory owned by the run; variants keep their files under it.
    """

    rows: int
    seed: int
    workdir: Path


@dataclass(frozen=True)
class Variant:
    """One way of doing the workload's job.

    Args:
        name: short and unique within the workload; it names the CSV rows.
        prepare: untimed setup for one run (fresh table, empty directory); returns the step
            to time.
    """

    name: str
    prepare: Callable[[], Step]


@dataclass(frozen=True)
class Workload:
    """A job timed several ways.

    Args:
        name: the name on the command line and of the results CSV.
        doc: one line saying what is compared.
        baseline: the name of the variant every other one is compared with.
        default_rows: the size used when the command line does not say.
        variants: builds the variants for a context; called once per run, so shared
            input data is generated once and reused by every variant and repeat.
    """

    name: str
    doc: str
    baseline: str
    default_rows: int
    variants: Callable[[WorkloadContext], Sequence[Variant]]


@dataclass(frozen=True)
class Measurement:
    """One timed run of one variant: a row of `<workload>.csv`."""

    workload: str
    variant: str
    repeat: int
    seconds: float
    rows: int
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class VariantSummary:
    """The medians of one variant's repeats and its ratios to the baseline's medians.

    `ratio_rows_per_s` below 1 means slower than the baseline; `ratio_seconds` is the time
    taken as a multiple of the baseline's. `metrics` are the medians of the steps' own metrics.
    """

    workload: str
    variant: str
    is_baseline: bool
    repeats: int
    rows: int
    median_seconds: float
    median_rows_per_s: float
    ratio_rows_per_s: float
    ratio_seconds: float
    metrics: Mapping[str, float] = field(default_factory=dict)


def run_workload(
    workload: Workload,
    *,
    rows: int,
    repeats: int,
    seed: int = 42,
    warmup: int = 1,
    workdir: Path | None = None,
    clock: Clock = time.perf_counter,
) -> list[Measurement]:
    """Run every variant `warmup` times untimed, then `repeats` times timed, interleaved.

    Args:
        workload: what to run.
        rows: the size handed to the workload.
        repeats: timed runs per variant.
        seed: the seed handed to the workload.
        warmup: untimed rounds before the timed ones.
        workdir: scratch directory; a temporary one (removed afterwards) when None.
        clock: the timer; tests pass a fake one.

    Returns:
        One measurement per variant and timed repeat, in the order they ran.

    Raises:
        ValueError: the workload's variants are misdeclared, or sizes are not positive.
    """
    if rows < 1 or repeats < 1 or warmup < 0:
        raise ValueError(
            f"need rows >= 1, repeats >= 1, warmup >= 0; got {rows}, {repeats}, {warmup}"
        )
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix=f"bench-{workload.name}-") as scratch:
            return run_workload(
                workload,
                rows=rows,
                repeats=repeats,
                seed=seed,
                warmup=warmup,
                workdir=Path(scratch),
                clock=clock,
            )
    variants = list(workload.variants(WorkloadContext(rows=rows, seed=seed, workdir=workdir)))
    _check_variants(workload, variants)
    for _ in range(warmup):
        for variant in variants:
            variant.prepare()()
    measurements = []
    for repeat in range(1, repeats + 1):
        # Rotate the order each round so no variant always runs first (or right after another).
        shift = (repeat - 1) % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            step = variant.prepare()
            gc.collect()
            start = clock()
            done = step()
            seconds = clock() - start
            rows, metrics = (done.rows, done.metrics) if isinstance(done, Outcome) else (done, {})
            measurements.append(
                Measurement(workload.name, variant.name, repeat, seconds, rows, dict(metrics))
            )
    return measurements


def summarize(measurements: Sequence[Measurement], baseline: str) -> list[VariantSummary]:
    """Median seconds and rows/s per variant, and each variant's ratio to `baseline`.

    Variants come out in the order they first appear in `measurements`.

    Raises:
        ValueError: there are no measurements of `baseline`.
    """
    by_variant: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_variant.setdefault(m.variant, []).append(m)
    if baseline not in by_variant:
        raise ValueError(f"no measurements of the baseline variant {baseline!r}")
    medians = {
        name: (
            statistics.median(m.seconds for m in runs),
            statistics.median(m.rows_per_s for m in runs),
        )
        for name, runs in by_variant.items()
    }
    base_seconds, base_rows_per_s = medians[baseline]
    return [
        VariantSummary(
            workload=runs[0].workload,
            variant=name,
            is_baseline=name == baseline,
            repeats=len(runs),
            rows=int(statistics.median(m.rows for m in runs)),
            median_seconds=medians[name][0],
            median_rows_per_s=medians[name][1],
            ratio_rows_per_s=_ratio(medians[name][1], base_rows_per_s),
            ratio_seconds=_ratio(medians[name][0], base_seconds),
            metrics={
                metric: statistics.median(m.metrics[metric] for m in runs)
                for metric in _metric_names(runs)
                if all(metric in m.metrics for m in runs)
            },
        )
        for name, runs in by_variant.items()
    ]


def write_results(
    results_dir: Path,
    workload: str,
    measurements: Sequence[Measurement],
    summaries: Sequence[VariantSummary],
) -> tuple[Path, Path]:
    """Write `<workload>.csv` (one row per timed run) and `<workload>.summary.csv`.

    Returns:
        The paths of the two files, measurements first. Earlier results are replaced.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    runs_path = results_dir / f"{workload}.csv"
    summary_path = results_dir / f"{workload}.summary.csv"
    run_columns = [*_plain_fields(Measurement), "rows_per_s", *_metric_names(measurements)]
    _write_csv(
        runs_path,
        run_columns,
        ({**_flat(m), "rows_per_s": m.rows_per_s} for m in measurements),
    )
    summary_columns = [*_plain_fields(VariantSummary), *_metric_names(summaries)]
    _write_csv(summary_path, summary_columns, map(_flat, summaries))
    return runs_path, summary_path


def format_table(summaries: Sequence[VariantSummary]) -> str:
    """A short fixed-width table of the summaries, baseline marked with `*`."""
    metrics = _metric_names(summaries)
    header = (
        "variant",
        "rows",
        "median s",
        "rows/s",
        "x baseline rows/s",
        "x baseline time",
        *metrics,
    )
    lines = [
        (
            f"{s.variant}{' *' if s.is_baseline else ''}",
            f"{s.rows:,}",
            f"{s.median_seconds:.3f}",
            f"{s.median_rows_per_s:,.0f}",
            f"{s.ratio_rows_per_s:.2f}",
            f"{s.ratio_seconds:.2f}",
            *(f"{s.metrics[m]:,.2f}" if m in s.metrics else "" for m in metrics),
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in (header, *lines)) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in (header, *lines)
    )


def _check_variants(workload: Workload, variants: Sequence[Variant]) -> None:
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"workload {workload.name!r} has duplicate variant names: {names}")
    if workload.baseline not in names:
        raise ValueError(
            f"workload {workload.name!r}: baseline {workload.baseline!r} is not a variant ({names})"
        )


def _metric_names(rows: Iterable[Measurement | VariantSummary]) -> list[str]:
    """Every metric name in `rows`, in the order first seen."""
    return list(dict.fromkeys(name for row in rows for name in row.metrics))


def _plain_fields(cls: type[Measurement] | type[VariantSummary]) -> list[str]:
    return [f.name for f in fields(cls) if f.name != "metrics"]


def _flat(row: Measurement | VariantSummary) -> dict[str, Any]:
    """`row` as one CSV record: its fields, then its metrics as columns of their own."""
    values = asdict(row)
    return {**{k: v for k, v in values.items() if k != "metrics"}, **row.metrics}


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("nan")


def _write_csv(path: Path, columns: list[str], rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
