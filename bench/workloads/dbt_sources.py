"""What reading the staging Iceberg tables costs a dev `dbt build`, on a `medium` world.

Before any clock starts, the staging workload's world (two days, ingested into raw) is
staged with Polars and resolved. Each timed run is a whole `dbt build` (models, snapshot,
tests) into a fresh DuckDB file, its sources made two ways by `catalog/dbt_source.py`:
- `copy` (baseline): every staging table copied into DuckDB first, as dbt-duckdb's own
  iceberg plugin does on every run;
- `view`: views over `iceberg_scan()`, read in place (c360's default).
`rows` is the staging rows the build can read; `duckdb_mb` is the DuckDB file's size after
the build.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.runner import Outcome, Step, Variant, Workload, WorkloadContext
from bench.workloads.staging import simulated_lakehouse
from c360.settings import Scale, Settings
from catalog.contracts import load_contracts
from catalog.dbt_source import SOURCE_KINDS
from catalog.factory import open_catalog
from catalog.tables import staging
from flows.model import DBT_PROJECT, run_dbt
from flows.resolve import resolve_lakehouse
from flows.stage import STAGED, stage_table

BASELINE = "copy"


def resolved_lakehouse(scale: Scale, context: WorkloadContext) -> tuple[Settings, int]:
    """The staging workload's world of `scale`, staged and resolved; and its staging rows."""
    settings = simulated_lakehouse(scale, context)
    catalog = open_catalog(settings)
    contracts = load_contracts()
    for staged in STAGED.values():
        stage_table(catalog, staged, contracts[staged.feed], engine="polars", run_id="bench")
    resolve_lakehouse(catalog, settings.sources_dir / "truth", run_id="bench")
    rows = sum(catalog.load_table(t.identifier_name).scan().count() for t in staging.TABLES)
    return settings, rows


def profiles_with_sources(mode: str, directory: Path) -> Path:
    """A copy of the project's `profiles.yml` whose lakehouse plugin makes `mode` sources."""
    profiles = yaml.safe_load((DBT_PROJECT / "profiles.yml").read_text())
    for plugin in profiles["c360"]["outputs"]["dev"]["plugins"]:
        if plugin["alias"] == "lakehouse":
            plugin["config"]["sources"] = mode
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    return directory


def _variant(mode: str, settings: Settings, rows: int, workdir: Path) -> Variant:
    profiles_dir = profiles_with_sources(mode, workdir / f"profiles-{mode}")
    database = settings.dbt_dir / "c360.duckdb"

    def prepare() -> Step:
        database.unlink(missing_ok=True)

        def step() -> Outcome:
            run_dbt(settings, ["build"], profiles_dir)
            return Outcome(rows, {"duckdb_mb": database.stat().st_size / 2**20})

        return step

    return Variant(mode, prepare)


def workload(scale: Scale) -> Workload:
    """dbt build with sources copied vs read in place, on a world of `scale`."""

    def variants(context: WorkloadContext) -> list[Variant]:
        settings, rows = resolved_lakehouse(scale, context)
        return [_variant(mode, settings, rows, context.workdir) for mode in SOURCE_KINDS]

    return Workload(
        name="dbt_sources",
        doc=f"dev dbt build of a {scale.value} world: sources copied vs read in place",
        baseline=BASELINE,
        default_rows=1,
        variants=variants,
    )


WORKLOAD = workload(Scale.MEDIUM)
