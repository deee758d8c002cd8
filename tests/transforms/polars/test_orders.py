"""Staging the orders database: raw CDC history to clean current state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl

from catalog.tables import staging
from tests.transforms.frames import empty
from transforms.polars.orders import stage_order_items, stage_orders, stage_payments, stage_products

UTC_US = pl.Datetime("us", "UTC")
MONEY = pl.Decimal(12, 2)
CDC_SCHEMA = {"_cdc_operation": pl.String, "_ingested_at": UTC_US, "_batch_id": pl.String}
ORDERS_SCHEMA = {
    "order_id": pl.String,
    "customer_id": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "status": pl.String,
    "order_total": MONEY,
    "currency": pl.String,
    "ordered_at": UTC_US,
    "updated_at": UTC_US,
    **CDC_SCHEMA,
}


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _order(
    order_id: str,
    *,
    updated: datetime | None,
    ingested: datetime,
    operation: str = "insert",
    status: str | None = "placed",
    email: str | None = "guest@example.com",
    phone: str | None = "555-123-4567",
) -> dict[str, object]:
    deleted = operation == "delete"
    return {
        "order_id": order_id,
        "customer_id": None,
        "email": None if deleted else email,
        "phone": None if deleted else phone,
        "status": None if deleted else status,
        "order_total": None if deleted else Decimal("12.34"),
        "currency": None if deleted else "USD",
        "ordered_at": None if deleted else _at(1),
        "updated_at": updated,
        "_cdc_operation": operation,
        "_ingested_at": ingested,
        "_batch_id": f"b-{ingested:%d%H}",
    }


def _stage_orders(*versions: dict[str, object]) -> pl.DataFrame:
    return stage_orders(
        empty(staging.ORDERS_ORDERS), pl.LazyFrame(list(versions), schema=ORDERS_SCHEMA)
    ).collect()


def test_each_live_order_once_in_its_latest_state_with_normalised_contacts() -> None:
    staged = _stage_orders(
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
    )

    assert staged.columns == staging.ORDERS_ORDERS.column_names
    assert staged.select("order_id", "status", "email", "phone", "updated_at").rows() == [
        ("O1", "shipped", "guest@example.com", "+15559876543", _at(3)),
        ("O2", "placed", "bob@example.com", None, _at(1)),
    ]
    assert staged["order_total"].to_list() == [Decimal("12.34")] * 2


def test_a_deleted_order_is_dropped_and_an_update_after_the_delete_brings_it_back() -> None:
    staged = _stage_orders(
        _order("O1", updated=_at(1), ingested=_at(2)),
        _order("O1", updated=None, ingested=_at(3), operation="delete"),
        _order("O1", updated=_at(4), ingested=_at(5), operation="update", status="restored"),
        _order("O2", updated=_at(1), ingested=_at(2)),
        _order("O2", updated=None, ingested=_at(3), operation="delete"),
    )

    assert staged.select("order_id", "status").rows() == [("O1", "restored")]


def test_the_later_capture_wins_over_an_older_source_timestamp() -> None:
    staged = _stage_orders(
        _order("O1", updated=_at(3), ingested=_at(4), status="shipped"),
        _order("O1", updated=_at(2), ingested=_at(5), operation="update", status="late"),
    )

    assert staged["status"].to_list() == ["late"]


def test_order_items_keep_each_live_line_by_capture_order() -> None:
    schema = {
        "order_item_id": pl.String,
        "order_id": pl.String,
        "product_id": pl.String,
        "quantity": pl.Int32,
        "unit_price": MONEY,
        "line_total": MONEY,
        **CDC_SCHEMA,
    }
    price = Decimal("5.00")
    rows = [
        ("I2", "O1", "P1", 2, price, Decimal("10.00"), "insert", _at(2), "b"),
        ("I1", "O1", "P2", 1, price, price, "insert", _at(2), "b"),
        ("I3", "O2", "P1", 1, price, price, "insert", _at(2), "b"),
        ("I3", None, None, None, None, None, "delete", _at(3), "c"),
    ]

    staged = stage_order_items(
        empty(staging.ORDERS_ORDER_ITEMS), pl.LazyFrame(rows, schema=schema, orient="row")
    ).collect()

    assert staged.columns == staging.ORDERS_ORDER_ITEMS.column_names
    assert staged.select("order_item_id", "quantity", "line_total").rows() == [
        ("I1", 1, price),
        ("I2", 2, Decimal("10.00")),
    ]


def test_payments_keep_refunds_as_negative_amounts() -> None:
    schema = {
        "payment_id": pl.String,
        "order_id": pl.String,
        "method": pl.String,
        "amount": MONEY,
        "paid_at": UTC_US,
        "updated_at": UTC_US,
        **CDC_SCHEMA,
    }
    rows = [
        ("Y1", "O1", "card", Decimal("12.34"), _at(1), _at(1), "insert", _at(2), "b"),
        ("Y2", "O1", "card", Decimal("-12.34"), _at(3), _at(3), "insert", _at(4), "c"),
        ("Y1", "O1", "card", Decimal("12.34"), _at(1), _at(3), "update", _at(4), "c"),
    ]

    staged = stage_payments(
        empty(staging.ORDERS_PAYMENTS), pl.LazyFrame(rows, schema=schema, orient="row")
    ).collect()

    assert staged.columns == staging.ORDERS_PAYMENTS.column_names
    assert staged.select("payment_id", "amount", "updated_at").rows() == [
        ("Y1", Decimal("12.34"), _at(3)),
        ("Y2", Decimal("-12.34"), _at(3)),
    ]


def test_products_take_their_latest_price() -> None:
    schema = {
        "product_id": pl.String,
        "sku": pl.String,
        "name": pl.String,
        "category": pl.String,
        "price": MONEY,
        "updated_at": UTC_US,
        **CDC_SCHEMA,
    }
    rows = [
        ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("9.99"), _at(1), "insert", _at(2), "b"),
        ("P1", "SKU-1", "Classic Mug", "kitchen", Decimal("8.49"), _at(3), "update", _at(4), "c"),
    ]

    staged = stage_products(
        empty(staging.ORDERS_PRODUCTS), pl.LazyFrame(rows, schema=schema, orient="row")
    ).collect()

    assert staged.columns == staging.ORDERS_PRODUCTS.column_names
    assert staged.select("product_id", "price").rows() == [("P1", Decimal("8.49"))]
