"""`python -m bench [workload ...] [--repeats N] [--rows N]`: run workloads, print, save CSVs."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.runner import RESULTS_DIR, Workload, format_table, run_workload, summarize, write_results
from bench.workloads import available


def main(argv: Sequence[str] | None = None, workloads: Mapping[str, Workload] | None = None) -> int:
    """Run the named workloads (all when none are named) and return the exit status.

    Args:
        argv: the command-line arguments; `sys.argv[1:]` when None.
        workloads: the workloads to choose from; the `bench.workloads` registry when None.
    """
    registry = available() if workloads is None else workloads
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time workload variants side by side; report ratios to the baseline.",
    )
    parser.add_argument("workload", nargs="*", help="workloads to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--rows", type=int, help="input size (default: the workload's own)")
    parser.add_argument("--seed", type=int, default=42, help="seed for generated data")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the CSVs go")
    args = parser.parse_args(argv)

    if args.list:
        for workload in registry.values():
            print(f"{workload.name:<12} {workload.doc} (default {workload.default_rows:,} rows)")
        return 0
    unknown = [name for name in args.workload if name not in registry]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; available: {sorted(registry)}")
    if args.repeats < 1 or args.warmup < 0 or (args.rows is not None and args.rows < 1):
        parser.error("--repeats and --rows must be at least 1, --warmup at least 0")

    for name in args.workload or list(registry):
        workload = registry[name]
        rows = args.rows or workload.default_rows
        print(
            f"{name}: {workload.doc}\n"
            f"{rows:,} rows, {args.warmup} warm-up + {args.repeats} timed runs per variant, "
            f"baseline {workload.baseline} (*)",
            flush=True,
        )
        measurements = run_workload(
            workload, rows=rows, repeats=args.repeats, seed=args.seed, warmup=args.warmup
        )
        summaries = summarize(measurements, workload.baseline)
        runs_path, summary_path = write_results(args.out, name, measurements, summaries)
        print(format_table(summaries))
        print(f"wrote {runs_path} and {summary_path}\n", flush=True)
    return 0
