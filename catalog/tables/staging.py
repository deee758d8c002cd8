"""Staging zone: clean, typed, deduplicated current state, one table per source entity."""

from pyiceberg.types import BooleanType, DateType, DoubleType, StringType, TimestamptzType

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

TABLES = (CRM_CUSTOMERS,)
