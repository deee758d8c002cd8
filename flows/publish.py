"""Publish: copy dbt's curated models into the lakehouse's `curated` Iceberg tables.

A changed mart replaces its table whole: the few rows a day changes are spread through the
table (a re-resolved customer key reaches back months), and pyiceberg deletes copy-on-write,
so committing only the change would rewrite the same data file and cost more.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog

from api.serving_copy import ServingCopyInfo, publish_serving_copy, serving_path
from c360.settings import Settings
from catalog.content import frame_digest
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import curated
from catalog.tables.definition import TableDef
from catalog.writer import BATCH_ID, WriteResult, content_batch_id, fit_to_schema, write

# dbt relation -> the curated table it is published as: every contracted mart.
PUBLISHED: dict[str, TableDef] = {f"marts.{table.name}": table for table in curated.TABLES}
# Snapshot-summary entry: the content digest of the rows a publish committed.
CONTENT = "c360.content"


def publish_models(
    catalog: Catalog, database: Path, relations: list[str], *, run_id: str
) -> list[WriteResult]:
    """Publish each dbt model of `relations` (`PUBLISHED` keys) into its curated table."""
    with duckdb.connect(str(database), read_only=True) as con:
        return [_publish(catalog, con, r, PUBLISHED[r], run_id=run_id) for r in relations]


def publish_model(
    catalog: Catalog, database: Path, relation: str, target: TableDef, *, run_id: str
) -> WriteResult:
    """Replace `target` with the dbt model `relation` from the dbt DuckDB file, unless it
    holds those rows already.

    The commit records the model's content digest: when the table's current snapshot has
    the digest of the model, nothing is committed (an unchanged model, or a publish run
    again). A model back to the rows of an older snapshot is published all the same.
    """
    with duckdb.connect(str(database), read_only=True) as con:
        return _publish(catalog, con, relation, target, run_id=run_id)


def _publish(
    catalog: Catalog,
    con: duckdb.DuckDBPyConnection,
    relation: str,
    target: TableDef,
    *,
    run_id: str,
) -> WriteResult:
    table = ensure_table(catalog, target)
    frame = fit_to_schema(
        con.sql(f"select * from {relation}").to_arrow_table(),
        table.schema(),
        target.identifier_name,
    )
    rows = pl.from_arrow(frame)
    assert isinstance(rows, pl.DataFrame)
    content = frame_digest(rows).sha256
    current = table.current_snapshot()
    summary = current.summary if current is not None else None
    if current is not None and summary is not None and summary.get(CONTENT) == content:
        batch = summary.get(BATCH_ID, "")
        return WriteResult(target.identifier_name, batch, 0, current.snapshot_id, skipped=True)
    # The content over the snapshot it replaces: a retry of a failed commit has the same id.
    batch_id = content_batch_id(content, str(current.snapshot_id) if current else "")
    return write(
        catalog,
        target,
        frame,
        batch_id=batch_id,
        run_id=run_id,
        mode="overwrite",
        properties={CONTENT: content},
    )


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_task(settings: Settings, relations: list[str], run_id: str) -> list[WriteResult]:
    """Publish dbt models into their curated tables: one task, one catalog and one DuckDB
    connection for all, as opening them costs as much as publishing a small mart (a retry
    commits nothing for the marts published already)."""
    return publish_models(open_catalog(settings), settings.dbt_database, relations, run_id=run_id)


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
    built = built_marts(settings.dbt_database)
    for relation in sorted(PUBLISHED.keys() - set(built)):
        get_run_logger().warning("%s is not built yet (a paused feed): not published", relation)
    writes = publish_task(settings, built, run_id) if built else []
    if "marts.customer_360" in built and (
        any(not w.skipped for w in writes) or not serving_path(settings).exists()
    ):
        serving_copy_task(settings)
    return writes
