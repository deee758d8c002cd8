"""Database ingestion (the seed's DMS replication): source rows changed since the last
capture land in their raw table."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import raw
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, content_batch_id, write
from simulator.emitters.database import connect
from simulator.sources import crm

WATERMARK = "c360.watermark"


def last_watermark(table: Table) -> str | None:
    """The newest source `updated_at` already captured, from the table's snapshot history."""
    for snapshot in reversed(table.snapshots()):
        if snapshot.summary is not None and snapshot.summary[WATERMARK]:
            return str(snapshot.summary[WATERMARK])
    return None


def capture_changes(
    catalog: Catalog,
    source_url: str,
    source: sa.Table,
    definition: TableDef,
    *,
    key: str,
    run_id: str,
) -> WriteResult:
    """Append the source rows changed since the last capture to the raw table.

    The batch is identified by the source table and watermark range, so a re-run over the
    same range commits nothing twice.
    """
    table = ensure_table(catalog, definition)
    since = last_watermark(table)
    query = sa.select(source)
    if since is not None:
        # Sources store naive UTC: an aware bound would be shifted by the session's time zone
        # (PostgreSQL compares `timestamp > timestamptz` in it), re-reading or skipping rows.
        bound = datetime.fromisoformat(since).astimezone(UTC).replace(tzinfo=None)
        query = query.where(source.c.updated_at > bound)
    with connect(source_url).connect() as conn:
        changed = pl.read_database(query, conn, infer_schema_length=None)
    if changed.is_empty():
        return WriteResult(definition.identifier_name, "", 0, None, skipped=True)
    changed = changed.with_columns(pl.col("updated_at").dt.replace_time_zone("UTC"))
    until = changed["updated_at"].max()
    assert isinstance(until, datetime)
    known = _known_keys(table, key)
    batch = changed.with_columns(
        _cdc_operation=pl.when(pl.col(key).is_in(known.implode()))
        .then(pl.lit("update"))
        .otherwise(pl.lit("insert")),
        _source_committed_at=pl.col("updated_at"),
        _source=pl.lit(crm.DATASET if source is crm.CUSTOMERS else source.name),
        _ingested_at=pl.lit(datetime.now(UTC)),
        _batch_id=pl.lit(batch_id := content_batch_id(source.name, since or "", until.isoformat())),
    )
    return write(
        catalog,
        definition,
        batch,
        batch_id=batch_id,
        run_id=run_id,
        properties={WATERMARK: until.isoformat()},
    )


def _known_keys(table: Table, key: str) -> pl.Series:
    if table.current_snapshot() is None:
        return pl.Series(key, [], dtype=pl.String)
    keys = table.scan(selected_fields=(key,)).to_arrow()[key]
    return pl.Series(key, keys).cast(pl.String)


@task(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def ingest_crm_customers(settings: Settings, run_id: str) -> WriteResult:
    """Capture the CRM's changed customers into `raw.crm_customers`."""
    url = settings.resolved_sources().crm_url
    assert url, "every profile names a CRM database"
    return capture_changes(
        open_catalog(settings),
        url,
        crm.CUSTOMERS,
        raw.CRM_CUSTOMERS,
        key="customer_id",
        run_id=run_id,
    )


@flow(name="ingest-db")
def ingest_db_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Replicate every source database table into the raw zone."""
    return [ingest_crm_customers(settings, run_id)]
