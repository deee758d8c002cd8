"""Staging transform for the CRM's customers: raw CDC history to clean current state."""

import polars as pl

from catalog.tables import staging
from transforms.polars import normalise
from transforms.polars.cdc import latest_state

# The staging table is the single source of the output columns and their order.
STAGED_COLUMNS = staging.CRM_CUSTOMERS.column_names


def stage_crm_customers(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Current state of every live CRM customer with normalised identity attributes, from
    the `prior` staged state and newly captured `raw` versions."""
    return (
        # Capture order, not `updated_at`: a delete row has no source timestamp, and a row
        # committed late under a skewed clock carries an older one than the version it replaced.
        latest_state(prior, raw, key="customer_id", order_by=["_ingested_at", "updated_at"])
        .with_columns(
            normalise.name("first_name"),
            normalise.name("last_name"),
            normalise.email("email"),
            normalise.phone_e164("phone"),
            normalise.name("street"),
            normalise.name("city"),
            normalise.country_code("country"),
        )
        .select(STAGED_COLUMNS)
        .sort("customer_id")
    )
