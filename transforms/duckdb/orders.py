"""Staging transforms for the orders database: raw CDC history to clean current state."""

import duckdb
from duckdb import ColumnExpression

from catalog.tables import staging
from transforms.duckdb import normalise
from transforms.duckdb.cdc import latest_state

# Capture order first, as for the CRM: a delete row has no source timestamp, and a late
# commit under a skewed clock carries an older one than the version it replaced.
STAMPED_VERSION_ORDER = ["_ingested_at", "updated_at"]


def stage_orders(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Current state of every live order, its guest contacts normalised."""
    cleaned = {"email": normalise.email("email"), "phone": normalise.phone_e164("phone")}
    return (
        latest_state(prior, raw, key="order_id", order_by=STAMPED_VERSION_ORDER)
        .select(*(cleaned.get(c, ColumnExpression(c)) for c in staging.ORDERS_ORDERS.column_names))
        .order("order_id NULLS FIRST")
    )


def stage_order_items(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Every live order line (lines carry no source timestamp: capture order decides)."""
    return (
        latest_state(prior, raw, key="order_item_id", order_by=["_ingested_at"])
        .select(*map(ColumnExpression, staging.ORDERS_ORDER_ITEMS.column_names))
        .order("order_item_id NULLS FIRST")
    )


def stage_payments(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Current state of every live payment."""
    return (
        latest_state(prior, raw, key="payment_id", order_by=STAMPED_VERSION_ORDER)
        .select(*map(ColumnExpression, staging.ORDERS_PAYMENTS.column_names))
        .order("payment_id NULLS FIRST")
    )


def stage_products(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Current state of every live product in the catalog."""
    return (
        latest_state(prior, raw, key="product_id", order_by=STAMPED_VERSION_ORDER)
        .select(*map(ColumnExpression, staging.ORDERS_PRODUCTS.column_names))
        .order("product_id NULLS FIRST")
    )
