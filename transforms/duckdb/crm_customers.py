"""Staging transform for the CRM's customers: raw CDC history to clean current state."""

import duckdb
from duckdb import ColumnExpression

from catalog.tables import staging
from transforms.duckdb import normalise
from transforms.duckdb.cdc import latest_state

# The staging table is the single source of the output columns and their order.
STAGED_COLUMNS = staging.CRM_CUSTOMERS.column_names


def stage_crm_customers(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Current state of every live CRM customer with normalised identity attributes, from
    the `prior` staged state and newly captured `raw` versions."""
    cleaned = {
        "first_name": normalise.name("first_name"),
        "last_name": normalise.name("last_name"),
        "email": normalise.email("email"),
        "phone": normalise.phone_e164("phone"),
        "street": normalise.name("street"),
        "city": normalise.name("city"),
        "country": normalise.country_code("country"),
    }
    return (
        # Capture order, not `updated_at`: a delete row has no source timestamp, and a row
        # committed late under a skewed clock carries an older one than the version it replaced.
        latest_state(prior, raw, key="customer_id", order_by=["_ingested_at", "updated_at"])
        .select(*(cleaned.get(c, ColumnExpression(c)) for c in STAGED_COLUMNS))
        .order("customer_id NULLS FIRST")
    )
