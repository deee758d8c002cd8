"""Stage: turn raw history into clean current-state staging tables."""

from __future__ import annotations

from collections.abc import Callable

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
from transforms.clickstream import stage_clickstream_events
from transforms.crm_customers import stage_crm_customers
from transforms.orders import stage_order_items, stage_orders, stage_payments, stage_products

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


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def stage_crm_customers_task(settings: Settings, run_id: str) -> WriteResult:
    """Stage the CRM's customers into `staging.crm_customers`."""
    return stage_table(
        open_catalog(settings),
        raw.CRM_CUSTOMERS,
        staging.CRM_CUSTOMERS,
        stage_crm_customers,
        run_id=run_id,
    )


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def stage_products_task(settings: Settings, run_id: str) -> WriteResult:
    """Stage the shop's products into `staging.products`."""
    return stage_table(
        open_catalog(settings),
        raw.ORDERS_PRODUCTS,
        staging.ORDERS_PRODUCTS,
        stage_products,
        run_id=run_id,
    )


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def stage_orders_task(settings: Settings, run_id: str) -> WriteResult:
    """Stage the orders into `staging.orders`."""
    return stage_table(
        open_catalog(settings),
        raw.ORDERS_ORDERS,
        staging.ORDERS_ORDERS,
        stage_orders,
        run_id=run_id,
    )


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def stage_order_items_task(settings: Settings, run_id: str) -> WriteResult:
    """Stage the order lines into `staging.order_items`."""
    return stage_table(
        open_catalog(settings),
        raw.ORDERS_ORDER_ITEMS,
        staging.ORDERS_ORDER_ITEMS,
        stage_order_items,
        run_id=run_id,
    )


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def stage_payments_task(settings: Settings, run_id: str) -> WriteResult:
    """Stage the payments into `staging.payments`."""
    return stage_table(
        open_catalog(settings),
        raw.ORDERS_PAYMENTS,
        staging.ORDERS_PAYMENTS,
        stage_payments,
        run_id=run_id,
    )


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def stage_clickstream_events_task(settings: Settings, run_id: str) -> WriteResult:
    """Stage the clickstream into `staging.clickstream_events`, each event once."""
    return stage_table(
        open_catalog(settings),
        raw.CLICKSTREAM_EVENTS,
        staging.CLICKSTREAM_EVENTS,
        stage_clickstream_events,
        run_id=run_id,
    )


@flow(name="stage")
def stage_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Build every staging table from its raw history."""
    return [
        stage_crm_customers_task(settings, run_id),
        stage_products_task(settings, run_id),
        stage_orders_task(settings, run_id),
        stage_order_items_task(settings, run_id),
        stage_payments_task(settings, run_id),
        stage_clickstream_events_task(settings, run_id),
    ]
