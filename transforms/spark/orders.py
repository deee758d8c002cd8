"""Staging transforms for the orders database, the twins of transforms/polars/orders.py."""

from pyspark.sql import DataFrame

from catalog.tables import staging
from transforms.spark import normalise
from transforms.spark.cdc import latest_state

# Capture order first, as for the CRM: a delete row has no source timestamp, and a late
# commit under a skewed clock carries an older one than the version it replaced.
STAMPED_VERSION_ORDER = ["_ingested_at", "updated_at"]


def stage_orders(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """Current state of every live order, its guest contacts normalised."""
    return (
        latest_state(prior, raw, key="order_id", order_by=STAMPED_VERSION_ORDER)
        .withColumns({"email": normalise.email("email"), "phone": normalise.phone_e164("phone")})
        .select(staging.ORDERS_ORDERS.column_names)
        .orderBy("order_id")
    )


def stage_order_items(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """Every live order line (lines carry no source timestamp: capture order decides)."""
    return (
        latest_state(prior, raw, key="order_item_id", order_by=["_ingested_at"])
        .select(staging.ORDERS_ORDER_ITEMS.column_names)
        .orderBy("order_item_id")
    )


def stage_payments(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """Current state of every live payment."""
    return (
        latest_state(prior, raw, key="payment_id", order_by=STAMPED_VERSION_ORDER)
        .select(staging.ORDERS_PAYMENTS.column_names)
        .orderBy("payment_id")
    )


def stage_products(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """Current state of every live product in the catalog."""
    return (
        latest_state(prior, raw, key="product_id", order_by=STAMPED_VERSION_ORDER)
        .select(staging.ORDERS_PRODUCTS.column_names)
        .orderBy("product_id")
    )
