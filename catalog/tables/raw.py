"""Raw zone: immutable, append-only history of what arrived, when and from where."""

from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestamptzType,
)

from catalog.tables.definition import Column, TableDef, Zone

# Every raw table ends with these: where a row came from, when, and in which batch.
INGEST_COLUMNS = (
    Column("_source", StringType(), required=True, doc="the source dataset, e.g. crm.customers"),
    Column("_batch_id", StringType(), required=True, doc="the ingest batch that wrote it"),
    Column("_ingested_at", TimestamptzType(), required=True, doc="when c360 captured it"),
    Column("_source_file", StringType(), doc="the landing key a file row came from"),
    Column("_source_position", StringType(), doc="shard and sequence number, or row in file"),
)
# Tables replicated from a database add how each version was captured.
CDC_COLUMNS = (
    Column("_cdc_operation", StringType(), required=True, doc="insert, update or delete"),
    Column("_source_committed_at", TimestamptzType(), doc="when the source committed the row"),
    *INGEST_COLUMNS,
)

CRM_CUSTOMERS = TableDef(
    zone=Zone.RAW,
    name="crm_customers",
    doc="Every captured version of a CRM customer row (full load, then changes).",
    columns=(
        Column("customer_id", StringType(), required=True),
        Column("first_name", StringType()),
        Column("last_name", StringType()),
        Column("email", StringType()),
        Column("phone", StringType()),
        Column("street", StringType()),
        Column("city", StringType()),
        Column("state", StringType()),
        Column("postcode", StringType()),
        Column("country", StringType()),
        Column("signup_date", DateType()),
        Column("lifetime_value", DoubleType()),
        Column("is_active", BooleanType()),
        Column("updated_at", TimestamptzType()),
        *CDC_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)


# The orders database's tables (PostgreSQL in production). Money is decimal(12, 2) as in the
# source, so sums reconcile to the cent. Source columns are optional: a delete row carries
# only the key.
MONEY = DecimalType(12, 2)

ORDERS_PRODUCTS = TableDef(
    zone=Zone.RAW,
    name="orders_products",
    doc="Every captured version of a product in the shop's catalog.",
    columns=(
        Column("product_id", StringType(), required=True),
        Column("sku", StringType()),
        Column("name", StringType()),
        Column("category", StringType()),
        Column("price", MONEY),
        Column("updated_at", TimestamptzType()),
        *CDC_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)

ORDERS_ORDERS = TableDef(
    zone=Zone.RAW,
    name="orders_orders",
    doc="Every captured version of an order (placed, then each status change).",
    columns=(
        Column("order_id", StringType(), required=True),
        Column("customer_id", StringType(), doc="null for guest checkouts"),
        Column("email", StringType()),
        Column("phone", StringType()),
        Column("status", StringType()),
        Column("order_total", MONEY),
        Column("currency", StringType()),
        Column("ordered_at", TimestamptzType()),
        Column("updated_at", TimestamptzType()),
        *CDC_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)

ORDERS_ORDER_ITEMS = TableDef(
    zone=Zone.RAW,
    name="orders_order_items",
    doc="Every captured order line; lines are immutable, so each key arrives once.",
    columns=(
        Column("order_item_id", StringType(), required=True),
        Column("order_id", StringType()),
        Column("product_id", StringType()),
        Column("quantity", IntegerType()),
        Column("unit_price", MONEY),
        Column("line_total", MONEY),
        *CDC_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)

ORDERS_PAYMENTS = TableDef(
    zone=Zone.RAW,
    name="orders_payments",
    doc="Every captured payment; refunds and cancellations are negative amounts.",
    columns=(
        Column("payment_id", StringType(), required=True),
        Column("order_id", StringType()),
        Column("method", StringType()),
        Column("amount", MONEY),
        Column("paid_at", TimestamptzType()),
        Column("updated_at", TimestamptzType()),
        *CDC_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)


CLICKSTREAM_EVENTS = TableDef(
    zone=Zone.RAW,
    name="clickstream_events",
    doc=(
        "Every clickstream record read from the stream, as it arrived: duplicates and late "
        "events included."
    ),
    columns=(
        # Typed copies of the event's fields; null where the payload lacks one or is not JSON.
        Column("event_id", StringType()),
        Column("event_type", StringType()),
        Column("event_at", TimestamptzType(), doc="the device's clock, as the event reports it"),
        Column("device_id", StringType()),
        Column("session_id", StringType()),
        Column("customer_id", StringType()),
        Column("page", StringType()),
        Column("query", StringType()),
        Column("product_id", StringType()),
        Column("payload", StringType(), required=True, doc="the record's JSON, fields unknown too"),
        Column("partition_key", StringType(), required=True, doc="the stream record's key"),
        Column("arrived_at", TimestamptzType(), required=True, doc="when the stream accepted it"),
        *INGEST_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)


# File drops add the landed file's size and checksum to every row, so each row leads back to
# the exact bytes it came from (with `_source_file`, its key, and `_source_position`, its row).
FILE_COLUMNS = (
    *INGEST_COLUMNS,
    Column("_file_size", LongType(), doc="the landed file's size in bytes"),
    Column("_file_checksum", StringType(), doc="the landed file's sha256, hex"),
)


def _file_drop(name: str, doc: str) -> TableDef:
    # Only the ingestion columns are declared: the data columns are inferred from each file
    # (flows/ingest_files.py) and added as they first arrive, as a crawler would. Every value
    # of a text file (JSON, CSV, XML) is kept as the text it arrived as; Parquet keeps its types.
    return TableDef(
        zone=Zone.RAW,
        name=name,
        doc=doc,
        columns=FILE_COLUMNS,
        partition_by=(("_ingested_at", "day"),),
    )


VENDOR_LOYALTY_MEMBERS = _file_drop(
    "vendor_loyalty_members", "A member record from the loyalty partner's JSON drops."
)
VENDOR_MARKETING_LIST = _file_drop(
    "vendor_marketing_list", "A contact row from the marketing agency's CSV lists."
)
VENDOR_LEGACY_CUSTOMERS = _file_drop(
    "vendor_legacy_customers", "A customer record from the legacy system's XML exports."
)
VENDOR_PRODUCT_FEED = _file_drop(
    "vendor_product_feed", "A product row from the daily Parquet product feed."
)

SUPPORT_TICKETS = TableDef(
    zone=Zone.RAW,
    name="support_tickets",
    doc="A support ticket as landed (JSON lines): its text and metadata, values as text.",
    columns=(
        Column("ticket_id", StringType()),
        Column("created_at", StringType(), doc="ISO 8601 UTC, as the help desk wrote it"),
        Column("channel", StringType(), doc="email, chat, phone or web"),
        Column("subject", StringType()),
        Column("body", StringType()),
        Column("customer_email", StringType(), doc="as the customer typed it; may be missing"),
        *FILE_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)

TABLES: tuple[TableDef, ...] = (
    CRM_CUSTOMERS,
    ORDERS_PRODUCTS,
    ORDERS_ORDERS,
    ORDERS_ORDER_ITEMS,
    ORDERS_PAYMENTS,
    CLICKSTREAM_EVENTS,
    VENDOR_LOYALTY_MEMBERS,
    VENDOR_MARKETING_LIST,
    VENDOR_LEGACY_CUSTOMERS,
    VENDOR_PRODUCT_FEED,
    SUPPORT_TICKETS,
)
