"""Staging engines side by side: Polars, DuckDB and PySpark rebuild every staging table
from the same raw snapshot of a `small` world (`staging_medium`: a `medium` one).

Before any clock starts, the world (day 0 and one more day, with the vendor feeds' null and
duplicated keys on day 1) is simulated and ingested into raw once. Each timed run then drops
the staging tables and the staging records in `ops` (untimed) and stages everything in full
with one engine: contract checks, quarantine, the staging functions and the Iceberg commits.
Polars is the baseline. `checksum` is a digest of every staging table's sorted contents
after the run: equal across variants means the engines produced the same tables. Spark's
session starts in the warm-up round, so its ~17 s start-up is not in the timings.
"""

from __future__ import annotations

import hashlib

import polars as pl
from pyiceberg.catalog import Catalog

from bench.runner import Outcome, Step, Variant, Workload, WorkloadContext
from c360.settings import ProfileName, Scale, Settings
from catalog.contracts import load_contracts
from catalog.factory import open_catalog
from catalog.tables import ops
from flows.ingest_db import DATABASES, capture_database
from flows.ingest_files import VENDOR_FEEDS, ingest_feed
from flows.ingest_stream import consume
from flows.ingest_tickets import TICKETS
from flows.stage import STAGED, stage_table
from simulator.emitters.landing import open_landing
from simulator.world import simulate
from transforms.engines import ENGINES, EngineName

FAULTS = ["null_keys", "duplicate_keys"]


def simulated_lakehouse(scale: Scale, context: WorkloadContext) -> Settings:
    """A world of `scale` simulated for two days and ingested into raw, under the workdir.

    Day 1 carries the vendor feeds' null and duplicated keys (`FAULTS`). Nothing is staged.
    """
    settings = Settings(
        home=(context.workdir / scale.value).resolve(),
        profile=ProfileName.LOCAL,
        scale=scale,
        seed=context.seed,
        simulator={"faults": FAULTS, "fault_day": 1},  # type: ignore[arg-type]
    )
    catalog = open_catalog(settings)
    sources = settings.resolved_sources()
    for day in range(2):
        simulate(settings, days=min(day, 1))
        for database in DATABASES.values():
            capture_database(catalog, database.url(sources) or "", database.tables, run_id="bench")
        consume(settings, follow=False, run_id="bench")
        for feed in (*VENDOR_FEEDS.values(), TICKETS):
            ingest_feed(catalog, open_landing(settings), feed, run_id="bench")
    return settings


def _drop_staging(catalog: Catalog) -> None:
    names = [s.target.identifier_name for s in STAGED.values()]
    for name in [*names, ops.QUARANTINE.identifier_name, ops.STAGING_BATCHES.identifier_name]:
        if catalog.table_exists(name):
            catalog.purge_table(name)


def _checksum(catalog: Catalog) -> float:
    """A digest of every staging table's sorted rows, as a float the CSV can carry."""
    digest = hashlib.sha256()
    for staged in STAGED.values():
        columns = staged.target.column_names
        frame = pl.from_arrow(catalog.load_table(staged.target.identifier_name).scan().to_arrow())
        assert isinstance(frame, pl.DataFrame)
        digest.update(frame.sort(columns, nulls_last=True).write_ipc(None).getvalue())
    return float(int(digest.hexdigest()[:12], 16))


def _variant(settings: Settings, engine: EngineName) -> Variant:
    contracts = load_contracts()

    def prepare() -> Step:
        catalog = open_catalog(settings)
        _drop_staging(catalog)

        def step() -> Outcome:
            rows = 0
            for staged in STAGED.values():
                outcome = stage_table(
                    catalog, staged, contracts[staged.feed], engine=engine, run_id="bench"
                )
                rows += outcome.raw_rows
            return Outcome(rows, {"checksum": _checksum(catalog)})

        return step

    return Variant(engine, prepare)


def workload(scale: Scale) -> Workload:
    """The engine comparison on a world of `scale`."""

    def variants(context: WorkloadContext) -> list[Variant]:
        settings = simulated_lakehouse(scale, context)
        return [_variant(settings, engine) for engine in ENGINES]

    suffix = "" if scale is Scale.SMALL else f"_{scale.value}"
    return Workload(
        name=f"staging{suffix}",
        doc=f"full staging of a {scale.value} world (2 days) with polars vs duckdb vs spark",
        baseline="polars",
        default_rows=1,
        variants=variants,
    )


WORKLOAD = workload(Scale.SMALL)
