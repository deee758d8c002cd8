"""Staging the orders database: the DuckDB twins equal the Polars ones."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from catalog.tables import staging
from catalog.tables.definition import TableDef
from tests.transforms.duckdb.twins import DuckDBStage, PolarsStage, assert_same_stage
from tests.transforms.frames import empty
from tests.transforms.polars.test_orders import (
    CDC_SCHEMA,
    MONEY,
    ORDERS_SCHEMA,
    UTC_US,
    _at,
    _order,
)
from transforms.duckdb import orders as duckdb_orders
from transforms.polars import orders as polars_orders

ITEMS_SCHEMA = {
    "order_item_id": pl.String,
    "order_id": pl.String,
    "product_id": pl.String,
    "quantity": pl.Int32,
    "unit_price": MONEY,
    "line_total": MONEY,
    **CDC_SCHEMA,
}
PAYMENTS_SCHEMA = {
    "payment_id": pl.String,
    "order_id": pl.String,
    "method": pl.String,
    "amount": MONEY,
    "paid_at": UTC_US,
    "updated_at": UTC_US,
    **CDC_SCHEMA,
}
PRODUCTS_SCHEMA = {
    "product_id": pl.String,
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "price": MONEY,
    "updated_at": UTC_US,
    **CDC_SCHEMA,
}
PRICE = Decimal("5.00")

ORDERS = [
    _order("O2", updated=_at(1), ingested=_at(2), email=" Bob@Example.COM ", phone="unknown"),
    _order("O1", updated=_at(1), ingested=_at(2)),
    _order(
        "O1",
        updated=_at(3),
        ingested=_at(4),
        operation="update",
        status="shipped",
        phone="(555) 987-6543",
    ),
    _order("O3", updated=_at(1), ingested=_at(2)),
    _order("O3", updated=None, ingested=_at(3), operation="delete"),
    _order("O3", updated=_at(4), ingested=_at(5), operation="update", status="restored"),
    _order("O4", updated=_at(1), ingested=_at(2)),
    _order("O4", updated=None, ingested=_at(3), operation="delete"),
    _order("O5", updated=_at(3), ingested=_at(4), status="shipped"),
    _order("O5", updated=_at(2), ingested=_at(5), operation="update", status="late"),
    _order(
        "O6", updated=_at(3), ingested=_at(4), status="first", email="\u00a0GUEST@EXAMPLE.COM\t"
    ),
    _order("O6", updated=_at(3), ingested=_at(4), status="second", phone="555.123.4567"),
    _order("O7", updated=_at(1), ingested=_at(2), email=None, phone=None, status=None),
]
ITEMS = [
    ("I2", "O1", "P1", 2, PRICE, Decimal("10.00"), "insert", _at(2), "b"),
    ("I1", "O1", "P2", 1, PRICE, PRICE, "insert", _at(2), "b"),
    ("I3", "O2", "P1", 1, PRICE, PRICE, "insert", _at(2), "b"),
    ("I3", None, None, None, None, None, "delete", _at(3), "c"),
    ("I4", "O3", "P3", None, None, Decimal("-0.01"), "insert", _at(3), "c"),
    # Captured twice in one batch: the later row.
    ("I5", "O3", "P3", 1, PRICE, PRICE, "insert", _at(3), "c"),
    ("I5", "O3", "P3", 3, PRICE, Decimal("15.00"), "insert", _at(3), "c"),
]
PAYMENTS = [
    ("Y1", "O1", "card", Decimal("12.34"), _at(1), _at(1), "insert", _at(2), "b"),
    ("Y2", "O1", "card", Decimal("-12.34"), _at(3), _at(3), "insert", _at(4), "c"),
    ("Y1", "O1", "card", Decimal("12.34"), _at(1), _at(3), "update", _at(4), "c"),
    ("Y3", "O2", "paypal", Decimal("9999999999.99"), _at(1), _at(1), "insert", _at(2), "b"),
    ("Y3", None, None, None, None, None, "delete", _at(4), "c"),
]
PRODUCTS = [
    ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("9.99"), _at(1), "insert", _at(2), "b"),
    ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("8.49"), _at(3), "update", _at(4), "c"),
    ("P2", "SKU-2", " Tea\u00a0Pot ", None, Decimal("0.00"), _at(1), "insert", _at(2), "b"),
    ("P3", "SKU-3", "Gone", "kitchen", Decimal("1.00"), _at(1), "insert", _at(2), "b"),
    ("P3", None, None, None, None, None, "delete", _at(5), "d"),
]

TWINS: dict[str, tuple[PolarsStage, DuckDBStage, TableDef, pl.LazyFrame]] = {
    "orders": (
        polars_orders.stage_orders,
        duckdb_orders.stage_orders,
        staging.ORDERS_ORDERS,
        pl.LazyFrame(ORDERS, schema=ORDERS_SCHEMA),
    ),
    "order_items": (
        polars_orders.stage_order_items,
        duckdb_orders.stage_order_items,
        staging.ORDERS_ORDER_ITEMS,
        pl.LazyFrame(ITEMS, schema=ITEMS_SCHEMA, orient="row"),
    ),
    "payments": (
        polars_orders.stage_payments,
        duckdb_orders.stage_payments,
        staging.ORDERS_PAYMENTS,
        pl.LazyFrame(PAYMENTS, schema=PAYMENTS_SCHEMA, orient="row"),
    ),
    "products": (
        polars_orders.stage_products,
        duckdb_orders.stage_products,
        staging.ORDERS_PRODUCTS,
        pl.LazyFrame(PRODUCTS, schema=PRODUCTS_SCHEMA, orient="row"),
    ),
}


@pytest.mark.parametrize("table", TWINS)
def test_the_same_staged_rows_from_an_empty_prior(table: str) -> None:
    polars_stage, duckdb_stage, definition, raw = TWINS[table]

    staged = assert_same_stage(polars_stage, duckdb_stage, definition, empty(definition), raw)

    assert staged.num_rows > 0


@pytest.mark.parametrize("table", TWINS)
def test_the_same_staged_rows_from_a_prior_state(table: str) -> None:
    polars_stage, duckdb_stage, definition, raw = TWINS[table]
    rows = raw.collect()
    first_capture = rows["_ingested_at"].min()
    earlier = rows.filter(pl.col("_ingested_at") == first_capture).lazy()
    later = rows.filter(pl.col("_ingested_at") > first_capture).lazy()
    prior = polars_stage(empty(definition), earlier)

    incremental = assert_same_stage(polars_stage, duckdb_stage, definition, prior, later)
    full = assert_same_stage(polars_stage, duckdb_stage, definition, empty(definition), raw)

    assert incremental.equals(full)
