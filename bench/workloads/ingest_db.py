"""Database ingestion throughput: the full load of a `small` world's CRM and orders databases
into raw Iceberg tables vs reading the same tables with polars alone.

- `read_database` (baseline): `polars.read_database` of every replicated table (the
  simulator's declared tables, so values come back typed), one engine per database: the
  least any capture pays to get the rows out of the sources;
- `ingest_db`: `flows.ingest_db.capture_database` for both databases into a fresh catalog:
  reflection, the typed read, CDC columns, fitting, Parquet files and one commit per table.

The ratio is the cost of landing. The world (day 0 of `small`, the embedded SQLite sources)
is simulated once per run, before any clock starts; the scale sets the size, so `--rows`
does not apply. Each `ingest_db` run starts from an empty catalog with its tables created.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from bench.runner import Step, Variant, Workload, WorkloadContext
from bench.workloads.landing import open_local_catalog
from c360.settings import ProfileName, Scale, Settings
from catalog.registry import ensure_table
from flows.ingest_db import DATABASES, capture_database
from simulator.emitters.database import connect
from simulator.sources import crm, orders
from simulator.world import simulate

SCALE = Scale.SMALL
SOURCE_TABLES: dict[str, tuple[sa.Table, ...]] = {
    crm.NAME: (crm.CUSTOMERS,),
    orders.NAME: orders.TABLES,
}


def _variants(context: WorkloadContext) -> list[Variant]:
    settings = Settings(
        home=(context.workdir / "world").resolve(),
        profile=ProfileName.LOCAL,
        scale=SCALE,
        seed=context.seed,
    )
    simulate(settings)
    sources = settings.resolved_sources()
    urls = {name: db.url(sources) or "" for name, db in DATABASES.items()}
    return [
        Variant("read_database", lambda: _read_all(urls)),
        _ingest_variant(urls, context.workdir / "lakehouse"),
    ]


def _read_all(urls: dict[str, str]) -> Step:
    def step() -> int:
        rows = 0
        for name, url in urls.items():
            engine = connect(url)
            try:
                with engine.connect() as conn:
                    for table in SOURCE_TABLES[name]:
                        rows += pl.read_database(sa.select(table), conn).height
            finally:
                engine.dispose()
        return rows

    return step


def _ingest_variant(urls: dict[str, str], root: Path) -> Variant:
    def prepare() -> Step:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        catalog = open_local_catalog(root)
        for database in DATABASES.values():
            for table in database.tables:
                ensure_table(catalog, table.raw)

        def step() -> int:
            results = [
                result
                for name, database in DATABASES.items()
                for result in capture_database(catalog, urls[name], database.tables, run_id="bench")
            ]
            return sum(r.rows for r in results)

        return step

    return Variant("ingest_db", prepare)


WORKLOAD = Workload(
    name="ingest_db",
    doc=f"full load of a {SCALE.value} world's CRM + orders databases into raw vs read_database",
    baseline="read_database",
    default_rows=1,
    variants=_variants,
)
