"""The orders database's staging in Spark stages what Polars stages."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl
import pytest

from catalog.tables import staging
from catalog.tables.definition import TableDef
from tests.transforms.frames import empty
from tests.transforms.polars.test_orders import (
    CDC_SCHEMA,
    MONEY,
    ORDERS_SCHEMA,
    UTC_US,
    _at,
    _order,
)
from tests.transforms.spark.twins import assert_same_rows, run_twins
from transforms.engines import function

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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
    # Deleted and back; deleted; a late commit; a tie on the source timestamp.
    _order("O3", updated=_at(1), ingested=_at(2)),
    _order("O3", updated=None, ingested=_at(4), operation="delete"),
    _order("O3", updated=_at(5), ingested=_at(6), operation="update", status="restored"),
    _order("O4", updated=_at(1), ingested=_at(2)),
    _order("O4", updated=None, ingested=_at(6), operation="delete"),
    _order("O5", updated=_at(3), ingested=_at(4), status="shipped"),
    _order("O5", updated=_at(2), ingested=_at(6), operation="update", status="late"),
    _order("O6", updated=_at(3), ingested=_at(6), status="second"),
    _order("O6", updated=_at(3), ingested=_at(4), status="first"),
    _order(
        "O7",
        updated=_at(1),
        ingested=_at(2),
        email="\u00a0GUEST@Example.com\t",
        phone="+1 (555) 123-4567",
    ),
    _order("O8", updated=_at(5), ingested=_at(6), email=None, phone="1.555.123.4567"),
]

PRICE = Decimal("5.00")
ITEMS = (
    {
        "order_item_id": pl.String,
        "order_id": pl.String,
        "product_id": pl.String,
        "quantity": pl.Int32,
        "unit_price": MONEY,
        "line_total": MONEY,
        **CDC_SCHEMA,
    },
    [
        ("I2", "O1", "P1", 2, PRICE, Decimal("10.00"), "insert", _at(2), "b"),
        ("I1", "O1", "P2", 1, PRICE, PRICE, "insert", _at(2), "b"),
        ("I3", "O2", "P1", 1, PRICE, PRICE, "insert", _at(2), "b"),
        ("I3", None, None, None, None, None, "delete", _at(6), "d"),
        ("I4", "O3", "P3", 3, Decimal("0.01"), Decimal("0.03"), "insert", _at(6), "d"),
        ("I5", "O3", "P3", 1, Decimal("9999999999.99"), None, "insert", _at(4), "c"),
    ],
)
PAYMENTS = (
    {
        "payment_id": pl.String,
        "order_id": pl.String,
        "method": pl.String,
        "amount": MONEY,
        "paid_at": UTC_US,
        "updated_at": UTC_US,
        **CDC_SCHEMA,
    },
    [
        ("Y1", "O1", "card", Decimal("12.34"), _at(1), _at(1), "insert", _at(2), "b"),
        ("Y2", "O1", "card", Decimal("-12.34"), _at(3), _at(3), "insert", _at(4), "c"),
        ("Y1", "O1", "card", Decimal("12.34"), _at(1), _at(3), "update", _at(4), "c"),
        ("Y3", "O2", "paypal", Decimal("0.00"), _at(1), _at(5), "insert", _at(6), "d"),
        ("Y2", None, None, None, None, None, "delete", _at(6), "d"),
    ],
)
PRODUCTS = (
    {
        "product_id": pl.String,
        "sku": pl.String,
        "name": pl.String,
        "category": pl.String,
        "price": MONEY,
        "updated_at": UTC_US,
        **CDC_SCHEMA,
    },
    [
        ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("9.99"), _at(1), "insert", _at(2), "b"),
        ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("8.49"), _at(3), "update", _at(4), "c"),
        ("P2", "SKU-2", " Tea\u00a0Pot ", None, None, _at(1), "insert", _at(2), "b"),
        ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("7.00"), _at(2), "update", _at(6), "d"),
    ],
)


def _frame(schema: dict[str, pl.DataType], rows: list[tuple[object, ...]]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema=schema, orient="row")


CASES: dict[str, tuple[TableDef, pl.LazyFrame]] = {
    "stage_orders": (staging.ORDERS_ORDERS, pl.LazyFrame(ORDERS, schema=ORDERS_SCHEMA)),
    "stage_order_items": (staging.ORDERS_ORDER_ITEMS, _frame(*ITEMS)),
    "stage_payments": (staging.ORDERS_PAYMENTS, _frame(*PAYMENTS)),
    "stage_products": (staging.ORDERS_PRODUCTS, _frame(*PRODUCTS)),
}


@pytest.mark.parametrize("name", CASES)
def test_stages_what_polars_stages(spark: SparkSession, name: str) -> None:
    table, versions = CASES[name]
    captured = pl.col("_ingested_at") < _at(5)
    prior = function("polars", "orders", name)(empty(table), versions.filter(captured))

    for prior_state, raw in [(empty(table), versions), (prior, versions.filter(~captured))]:
        by_polars, by_spark = run_twins(spark, "orders", name, prior_state, raw)

        assert by_spark.column_names == table.column_names
        assert_same_rows(by_polars, by_spark, table)
        assert by_spark.num_rows > 1
