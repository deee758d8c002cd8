"""Stage: turn raw history into clean current-state staging tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import raw, staging
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, content_batch_id, write
from transforms.polars.clickstream import stage_clickstream_events
from transforms.polars.crm_customers import stage_crm_customers
from transforms.polars.orders import stage_order_items, stage_orders, stage_payments, stage_products

Transform = Callable[[pl.LazyFrame], pl.LazyFrame]


def stage_table(
    catalog: Catalog,
    source: TableDef,
    target: TableDef,
    transform: Transform,
    *,
    run_id: str,
) -> WriteResult:
    """Rebuild `target` from the current snapshot of `source` through `transform`.

    The batch id is derived from the source snapshot, so staging the same raw snapshot
    twice commits once.
    """
    raw_table = ensure_table(catalog, source)
    snapshot = raw_table.current_snapshot()
    snapshot_id = str(snapshot.snapshot_id) if snapshot else "empty"
    history = pl.from_arrow(raw_table.scan().to_arrow())
    assert isinstance(history, pl.DataFrame)
    staged = transform(history.lazy()).collect()
    batch_id = content_batch_id(target.identifier_name, source.identifier_name, snapshot_id)
    return write(catalog, target, staged, batch_id=batch_id, run_id=run_id, mode="overwrite")


@dataclass(frozen=True)
class Staged:
    """A staging table, the raw table it is built from, and the transform between them."""

    source: TableDef
    target: TableDef
    transform: Transform


STAGED: dict[str, Staged] = {
    "crm_customers": Staged(raw.CRM_CUSTOMERS, staging.CRM_CUSTOMERS, stage_crm_customers),
    "products": Staged(raw.ORDERS_PRODUCTS, staging.ORDERS_PRODUCTS, stage_products),
    "orders": Staged(raw.ORDERS_ORDERS, staging.ORDERS_ORDERS, stage_orders),
    "order_items": Staged(raw.ORDERS_ORDER_ITEMS, staging.ORDERS_ORDER_ITEMS, stage_order_items),
    "payments": Staged(raw.ORDERS_PAYMENTS, staging.ORDERS_PAYMENTS, stage_payments),
    "clickstream_events": Staged(
        raw.CLICKSTREAM_EVENTS, staging.CLICKSTREAM_EVENTS, stage_clickstream_events
    ),
}


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE, task_run_name="stage-{name}")
def stage_task(settings: Settings, name: str, run_id: str) -> WriteResult:
    """Build one staging table (a key of `STAGED`) from its raw history."""
    staged = STAGED[name]
    return stage_table(
        open_catalog(settings), staged.source, staged.target, staged.transform, run_id=run_id
    )


@flow(name="stage")
def stage_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Build every staging table from its raw history."""
    return [stage_task(settings, name, run_id) for name in STAGED]
