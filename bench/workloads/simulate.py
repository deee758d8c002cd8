"""Simulator throughput: rows emitted per second into the embedded sources, small vs medium.

Each run simulates a fresh world (day 0, the sources' history, then `DAYS` more days) into a
new home with the local profile: SQLite databases, the embedded stream, a landing folder.
`rows` is every row the manifest says was emitted, over all sources and days. The ratio of
`medium` to `small` rows/s shows how generation scales with a 10x larger world. The scale
presets set the size, so `--rows` does not apply here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.runner import Step, Variant, Workload, WorkloadContext
from c360.settings import ProfileName, Scale, Settings
from simulator.world import simulate

DAYS = 3


def _variant(scale: Scale, context: WorkloadContext) -> Variant:
    home = (context.workdir / scale.value).resolve()

    def prepare() -> Step:
        shutil.rmtree(home, ignore_errors=True)
        settings = Settings(home=Path(home), profile=ProfileName.LOCAL, scale=scale)
        settings = settings.model_copy(update={"seed": context.seed})

        def step() -> int:
            report = simulate(settings, days=DAYS)
            return sum(report.emitted.values())

        return step

    return Variant(scale.value, prepare)


WORKLOAD = Workload(
    name="simulate",
    doc=f"simulate day 0 + {DAYS} days into embedded sources: small vs medium (rows/s)",
    baseline="small",
    default_rows=1,
    variants=lambda context: [_variant(Scale.SMALL, context), _variant(Scale.MEDIUM, context)],
)
