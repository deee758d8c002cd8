"""Staging zone: clean, typed, deduplicated current state, one table per source entity."""

from dataclasses import replace

from pyiceberg.types import (
    BooleanType,
    StringType,
    TimestamptzType,
)

from catalog.tables import raw
from catalog.tables.definition import Column, TableDef, Zone


def current_state(source: TableDef, **docs: str) -> tuple[Column, ...]:
    """The columns of a staging table holding the current state of a replicated `source`:
    its source columns, with `updated_at` required (deletes are applied) and the given
    columns' docs saying how staging cleaned them."""
    return tuple(
        replace(
            column,
            required=column.required or column.name == "updated_at",
            doc=docs.get(column.name, column.doc),
        )
        for column in source.columns
        if not column.name.startswith("_")
    )


CRM_CUSTOMERS = TableDef(
    zone=Zone.STAGING,
    name="crm_customers",
    doc="The current state of each live CRM customer, normalised.",
    columns=current_state(
        raw.CRM_CUSTOMERS, email="trimmed, lower-case", phone="E.164, when parseable"
    ),
    identifier=("customer_id",),
)

ORDERS_PRODUCTS = TableDef(
    zone=Zone.STAGING,
    name="products",
    doc="The current state of each product in the shop's catalog.",
    columns=current_state(raw.ORDERS_PRODUCTS),
    identifier=("product_id",),
)

ORDERS_ORDERS = TableDef(
    zone=Zone.STAGING,
    name="orders",
    doc="The current state of each live order, contacts normalised.",
    columns=current_state(
        raw.ORDERS_ORDERS, email="trimmed, lower-case", phone="E.164, when parseable"
    ),
    identifier=("order_id",),
)

ORDERS_ORDER_ITEMS = TableDef(
    zone=Zone.STAGING,
    name="order_items",
    doc="Each live order line.",
    columns=current_state(raw.ORDERS_ORDER_ITEMS),
    identifier=("order_item_id",),
)

ORDERS_PAYMENTS = TableDef(
    zone=Zone.STAGING,
    name="payments",
    doc="The current state of each payment; refunds and cancellations are negative amounts.",
    columns=current_state(raw.ORDERS_PAYMENTS),
    identifier=("payment_id",),
)

CLICKSTREAM_EVENTS = TableDef(
    zone=Zone.STAGING,
    name="clickstream_events",
    doc="Each clickstream event once (its first arrival), in event-time order.",
    columns=(
        Column("event_id", StringType(), required=True),
        Column("event_type", StringType()),
        Column("event_at", TimestamptzType(), doc="the device's clock, as the event reports it"),
        Column("device_id", StringType()),
        Column("session_id", StringType()),
        Column("customer_id", StringType()),
        Column("page", StringType()),
        Column("query", StringType()),
        Column("product_id", StringType()),
        Column("arrived_at", TimestamptzType(), required=True, doc="when the stream accepted it"),
        Column("ingested_at", TimestamptzType(), required=True, doc="when c360 captured it"),
        Column(
            "is_late",
            BooleanType(),
            required=True,
            doc="happened before the newest event_at of every earlier ingestion batch",
        ),
    ),
    identifier=("event_id",),
)

TABLES = (
    CRM_CUSTOMERS,
    ORDERS_PRODUCTS,
    ORDERS_ORDERS,
    ORDERS_ORDER_ITEMS,
    ORDERS_PAYMENTS,
    CLICKSTREAM_EVENTS,
)
