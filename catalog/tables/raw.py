"""Raw zone: immutable, append-only history of what arrived, when and from where."""

from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
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

TABLES = (CRM_CUSTOMERS,)
