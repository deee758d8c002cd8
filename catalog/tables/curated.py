"""Curated zone: business-ready models published from dbt."""

from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    TimestamptzType,
)

from catalog.tables.definition import Column, TableDef, Zone

CUSTOMERS = TableDef(
    zone=Zone.CURATED,
    name="customers",
    doc="One row per live CRM customer, as modelled by dbt (`dbt/models/marts/customers.sql`).",
    columns=(
        Column("customer_id", StringType(), required=True),
        Column("full_name", StringType()),
        Column("email", StringType()),
        Column("phone", StringType()),
        Column("signup_date", DateType()),
        Column("tenure_days", IntegerType()),
        Column("lifetime_value", DoubleType()),
        Column("value_tier", StringType(), doc="high, medium or low lifetime value"),
        Column("is_active", BooleanType()),
        Column("updated_at", TimestamptzType()),
    ),
    identifier=("customer_id",),
)

TABLES = (CUSTOMERS,)
