"""Publish: copy dbt's curated models into the lakehouse's `curated` Iceberg tables."""

from __future__ import annotations

from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog

from api.serving_copy import ServingCopyInfo, publish_serving_copy, serving_path
from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.tables import curated
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, content_batch_id, write

# dbt relation -> the curated table it is published as: every contracted mart.
PUBLISHED: dict[str, TableDef] = {f"marts.{table.name}": table for table in curated.TABLES}


def publish_model(
    catalog: Catalog, database: Path, relation: str, target: TableDef, *, run_id: str
) -> WriteResult:
    """Replace `target` with the dbt model `relation` from the dbt DuckDB file.

    The batch id is a digest of the model's rows, so publishing an unchanged model commits
    nothing.
    """
    order = ", ".join(target.identifier)
    with duckdb.connect(str(database), read_only=True) as con:
        data = con.sql(f"select * from {relation} order by {order}").to_arrow_table()
    batch_id = content_batch_id(target.identifier_name, data)
    return write(catalog, target, data, batch_id=batch_id, run_id=run_id, mode="overwrite")


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_task(settings: Settings, relation: str, run_id: str) -> WriteResult:
    """Publish one dbt model into its curated table."""
    return publish_model(
        open_catalog(settings),
        settings.dbt_dir / "c360.duckdb",
        relation,
        PUBLISHED[relation],
        run_id=run_id,
    )


def built_marts(database: Path) -> list[str]:
    """The published relations the dbt DuckDB file holds, in `PUBLISHED` order: a mart
    downstream of a paused feed is missing until its first build."""
    if not database.exists():
        return []
    with duckdb.connect(str(database), read_only=True) as con:
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    return [relation for relation in PUBLISHED if relation in tables]


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def serving_copy_task(settings: Settings) -> ServingCopyInfo:
    """Rebuild the customer API's serving copy from the curated tables and swap it in."""
    return publish_serving_copy(settings, open_catalog(settings))


@flow(name="publish")
def publish_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Publish every curated model dbt has built (a mart not built yet keeps its table
    as it is, and is named in the log), then the API's serving copy if curated changed."""
    built = built_marts(settings.dbt_dir / "c360.duckdb")
    for relation in sorted(PUBLISHED.keys() - set(built)):
        get_run_logger().warning("%s is not built yet (a paused feed): not published", relation)
    writes = [publish_task(settings, relation, run_id) for relation in built]
    if "marts.customer_360" in built and (
        any(not w.skipped for w in writes) or not serving_path(settings).exists()
    ):
        serving_copy_task(settings)
    return writes
