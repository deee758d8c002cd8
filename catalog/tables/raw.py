"""Raw zone: immutable, append-only history of what arrived, when and from where."""

from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    StringType,
    TimestamptzType,
)

from catalog.tables.definition import Column, TableDef, Zone

# Every raw table ends with these: how the row was captured and by which batch.
CAPTURE_COLUMNS = (
    Column("cdc_operation", StringType(), required=True, doc="insert, update or delete"),
    Column("source_committed_at", TimestamptzType(), doc="when the source committed the row"),
    Column("ingested_at", TimestamptzType(), required=True, doc="when c360 captured it"),
    Column("batch_id", StringType(), required=True, doc="the ingest batch that wrote it"),
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
        *CAPTURE_COLUMNS,
    ),
    partition_by=(("ingested_at", "day"),),
)

TABLES = (CRM_CUSTOMERS,)
