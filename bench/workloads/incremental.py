"""What the pipeline run after one more simulated day (about 1 % more data) costs, next to a
full run over the same sources into an empty lakehouse.

A world's day 0 carries only some history (60 days of orders, one day of clickstream), so
one more day adds ~14 % to it; after `HISTORY_DAYS` days it adds ~1 %, the issue's case.
Before any clock starts, two homes are built once, each step by the `c360` command in a
child process (a `medium` world's 100 simulated days leave more memory resident in the
process that simulated them than the timed runs can spare), and kept as pristine copies:
- `incremental`: a world of `scale` simulated through day `HISTORY_DAYS - 1`, which went
  through the pipeline (as its daily runs would have left it), then one more day simulated
  into its sources (the source systems' work, which no run times);
- `full` (baseline): a copy of the same sources, with no lakehouse;
- `unchanged` (`small` only: it keeps a third copy of the world): the `incremental` home
  before that one more day, so the run finds nothing new. What it costs is the floor every
  daily run pays however little is new (orchestration, dbt's nodes, the bookkeeping).
Each timed run restores its home (at the same path: Iceberg metadata holds absolute paths)
and runs the whole pipeline flow once (`flows.pipeline.pipeline`, as `c360 run` does), so
both variants pay the same Prefect, dbt and publish overheads. Prefect's server is started
before any clock (`_warm_up`); the first run in the process still loads dbt's and Splink's
code, which `--warmup 1` keeps out of every timed run. `rows` is the raw rows the
run landed; `new_data_pct` is that as a share of every raw row after it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from prefect import flow

from bench.runner import Outcome, Step, Variant, Workload, WorkloadContext
from c360.run_ids import new_run_id
from c360.settings import ProfileName, Scale, Settings, settings_env
from catalog.factory import open_catalog
from catalog.tables import raw
from flows.pipeline import pipeline
from simulator.world import published_path

BASELINE = "full"
# Days of history before the timed day: a day's data is then ~1 % of everything.
HISTORY_DAYS = 100


def _settings(home: Path, scale: Scale, seed: int) -> Settings:
    return Settings(home=home, profile=ProfileName.LOCAL, scale=scale, seed=seed)


def _c360(settings: Settings, *args: str) -> None:
    """Run `c360 <args>` on `settings`' home in a child process."""
    command = [str(Path(sys.executable).with_name("c360")), *args]
    subprocess.run(command, env={**os.environ, **settings_env(settings)}, check=True)


@flow(name="bench-warm-up")
def _warm_up() -> None:
    """Nothing: run before any clock starts, it starts this process's Prefect server, which
    the first timed run would otherwise pay for alone."""


def _raw_rows(settings: Settings) -> int:
    catalog = open_catalog(settings)
    return sum(catalog.load_table(t.identifier_name).scan().count() for t in raw.TABLES)


def _keep(home: Path, name: str) -> Path:
    """Keep `home` as it is now beside it, as `name`, to restore before every run."""
    kept = home.with_name(f"{name}-pristine")
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(home, kept, symlinks=True)
    return kept


def _variant(name: str, settings: Settings, kept: Path, raw_before: int) -> Variant:
    """Restore `settings.home` from `kept` and run the pipeline once; `raw_before`: the raw
    rows the home holds before (raw tables only grow, by what the run lands)."""
    raw_names = {t.identifier_name for t in raw.TABLES}

    def prepare() -> Step:
        shutil.rmtree(settings.home)
        shutil.copytree(kept, settings.home, symlinks=True)

        def step() -> Outcome:
            result = pipeline(settings, new_run_id())
            landed = sum(w.rows for w in result.writes if w.table in raw_names and not w.skipped)
            return Outcome(landed, {"new_data_pct": 100 * landed / (raw_before + landed)})

        return step

    return Variant(name, prepare)


def workload(scale: Scale) -> Workload:
    """A full pipeline run vs the next day's incremental one (and, on `small`, a run with
    nothing new), on a world of `scale`."""
    floor = scale is Scale.SMALL

    def variants(context: WorkloadContext) -> list[Variant]:
        incremental = _settings(context.workdir / "incremental", scale, context.seed)
        _c360(incremental, "simulate", "--days", str(HISTORY_DAYS - 1))
        _c360(incremental, "run")
        raw_before = _raw_rows(incremental)
        unchanged = _keep(incremental.home, "unchanged") if floor else None
        _c360(incremental, "simulate", "--days", "1")
        full = _settings(context.workdir / "full", scale, context.seed)
        shutil.copytree(incremental.sources_dir, full.sources_dir)
        shutil.copy2(published_path(incremental), published_path(full))
        runs = [
            _variant(BASELINE, full, _keep(full.home, BASELINE), 0),
            _variant(
                "incremental", incremental, _keep(incremental.home, "incremental"), raw_before
            ),
        ]
        if unchanged is not None:
            runs.append(_variant("unchanged", incremental, unchanged, raw_before))
        _warm_up()
        return runs

    return Workload(
        name="incremental" if scale is Scale.SMALL else f"incremental_{scale.value}",
        doc=f"pipeline run on a {scale.value} world of {HISTORY_DAYS} days: a full run vs the "
        "next day's (+1 % data)" + (" vs one with nothing new" if floor else ""),
        baseline=BASELINE,
        default_rows=1,
        variants=variants,
    )


WORKLOAD = workload(Scale.SMALL)
