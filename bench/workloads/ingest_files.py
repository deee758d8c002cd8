"""File-drop ingestion throughput: landing a small world's day-0 vendor drop in raw vs only
parsing it.

The drop (a loyalty JSON, a marketing CSV, a legacy XML export, a product Parquet feed) is
simulated once into a landing folder, then:
- `parse` (baseline): read every file from the landing zone, hash it and parse it
  (`flows.file_formats.parse_file`): what any reader of the files pays;
- `ingest`: the whole scan of every vendor feed (`flows.ingest_files.ingest_feed`) into a
  fresh SQLite catalog: ledger read, parse, schema check, one raw commit per file, the
  ledger commit.
The ratio is what landing costs on top of parsing. `rows` is the records in the drop; the
scale preset sets the size, so `--rows` does not apply here.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from bench.runner import Step, Variant, Workload, WorkloadContext
from c360.settings import ProfileName, Scale, Settings, SourceSettings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import ops
from flows.file_formats import parse_file
from flows.ingest_files import VENDOR_FEEDS, ingest_feed
from simulator.emitters.landing import open_landing
from simulator.world import simulate

LANDING_OPS = (ops.INGEST_LEDGER, ops.SCHEMA_CHANGES)


def simulated_drop(workdir: Path, scale: Scale, seed: int) -> Settings:
    """A world's day 0 under `workdir/world`, and settings whose catalog is elsewhere."""
    home = (workdir / "world").resolve()
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home, profile=ProfileName.LOCAL, scale=scale, seed=seed)
    simulate(settings)
    return settings


def lakehouse_settings(landing: str, root: Path) -> Settings:
    """Settings for a lakehouse under `root` reading the `landing` zone."""
    return Settings(
        home=root.resolve(),
        profile=ProfileName.LOCAL,
        sources=SourceSettings(landing=landing),
    )


def parse_drop(world: Settings) -> int:
    """Read, hash and parse every vendor file; returns the records parsed."""
    landing = open_landing(world)
    rows = 0
    for feed in VENDOR_FEEDS.values():
        for key in landing.list(feed.prefix):
            data = landing.get(key)
            hashlib.sha256(data).hexdigest()
            rows += parse_file(key, data).rows
    return rows


def variants_for(scale: Scale, context: WorkloadContext) -> list[Variant]:
    world = simulated_drop(context.workdir, scale, context.seed)

    def parse() -> Step:
        return lambda: parse_drop(world)

    def ingest() -> Step:
        root = context.workdir / "lakehouse"
        shutil.rmtree(root, ignore_errors=True)
        landing_zone = world.resolved_sources().landing
        assert landing_zone is not None
        settings = lakehouse_settings(landing_zone, root)
        catalog = open_catalog(settings)
        landing = open_landing(settings)
        # Tables are created once in a lakehouse's life: not part of what a scan costs.
        for table in (*(f.table for f in VENDOR_FEEDS.values()), *LANDING_OPS):
            ensure_table(catalog, table)

        def step() -> int:
            scans = [
                ingest_feed(catalog, landing, f, run_id="bench") for f in VENDOR_FEEDS.values()
            ]
            return sum(entry.rows or 0 for scan in scans for entry in scan.landed)

        return step

    return [Variant("parse", parse), Variant("ingest", ingest)]


WORKLOAD = Workload(
    name="ingest_files",
    doc="land a small world's day-0 vendor drop in raw vs only parse it (rows/s)",
    baseline="parse",
    default_rows=1,
    variants=lambda context: variants_for(Scale.SMALL, context),
)
