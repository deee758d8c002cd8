"""Staging zone: clean, typed, deduplicated current state, one table per source entity."""

from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    StringType,
    TimestamptzType,
)

from catalog.tables.definition import Column, TableDef, Zone

CRM_CUSTOMERS = TableDef(
    zone=Zone.STAGING,
    name="crm_customers",
    doc="The current state of each live CRM customer, normalised.",
    columns=(
        Column("customer_id", StringType(), required=True),
        Column("first_name", StringType()),
        Column("last_name", StringType()),
        Column("email", StringType(), doc="trimmed, lower-case"),
        Column("phone", StringType(), doc="E.164, when parseable"),
        Column("street", StringType()),
        Column("city", StringType()),
        Column("state", StringType()),
        Column("postcode", StringType()),
        Column("country", StringType()),
        Column("signup_date", DateType()),
        Column("lifetime_value", DoubleType()),
        Column("is_active", BooleanType()),
        Column("updated_at", TimestamptzType(), required=True),
    ),
    identifier=("customer_id",),
)

# Money stays decimal(12, 2), as in the orders database, so sums reconcile to the cent.
MONEY = DecimalType(12, 2)

ORDERS_PRODUCTS = TableDef(
    zone=Zone.STAGING,
    name="products",
    doc="The current state of each product in the shop's catalog.",
    columns=(
        Column("product_id", StringType(), required=True),
        Column("sku", StringType()),
        Column("name", StringType()),
        Column("category", StringType()),
        Column("price", MONEY),
        Column("updated_at", TimestamptzType(), required=True),
    ),
    identifier=("product_id",),
)

ORDERS_ORDERS = TableDef(
    zone=Zone.STAGING,
    name="orders",
    doc="The current state of each live order, contacts normalised.",
    columns=(
        Column("order_id", StringType(), required=True),
        Column("customer_id", StringType(), doc="null for guest checkouts"),
        Column("email", StringType(), doc="trimmed, lower-case"),
        Column("phone", StringType(), doc="E.164, when parseable"),
        Column("status", StringType()),
        Column("order_total", MONEY),
        Column("currency", StringType()),
        Column("ordered_at", TimestamptzType()),
        Column("updated_at", TimestamptzType(), required=True),
    ),
    identifier=("order_id",),
)

ORDERS_ORDER_ITEMS = TableDef(
    zone=Zone.STAGING,
    name="order_items",
    doc="Each live order line.",
    columns=(
        Column("order_item_id", StringType(), required=True),
        Column("order_id", StringType()),
        Column("product_id", StringType()),
        Column("quantity", IntegerType()),
        Column("unit_price", MONEY),
        Column("line_total", MONEY),
    ),
    identifier=("order_item_id",),
)

ORDERS_PAYMENTS = TableDef(
    zone=Zone.STAGING,
    name="payments",
    doc="The current state of each payment; refunds and cancellations are negative amounts.",
    columns=(
        Column("payment_id", StringType(), required=True),
        Column("order_id", StringType()),
        Column("method", StringType()),
        Column("amount", MONEY),
        Column("paid_at", TimestamptzType()),
        Column("updated_at", TimestamptzType(), required=True),
    ),
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
