"""Staging transform for the CRM's customers, the twin of transforms/polars/crm_customers.py."""

from pyspark.sql import DataFrame

from catalog.tables import staging
from transforms.spark import normalise
from transforms.spark.cdc import latest_state

# The staging table is the single source of the output columns and their order.
STAGED_COLUMNS = staging.CRM_CUSTOMERS.column_names


def stage_crm_customers(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """Current state of every live CRM customer with normalised identity attributes, from
    the `prior` staged state and newly captured `raw` versions."""
    return (
        # Capture order, not `updated_at`: a delete row has no source timestamp, and a row
        # committed late under a skewed clock carries an older one than the version it replaced.
        latest_state(prior, raw, key="customer_id", order_by=["_ingested_at", "updated_at"])
        .withColumns(
            {
                "first_name": normalise.name("first_name"),
                "last_name": normalise.name("last_name"),
                "email": normalise.email("email"),
                "phone": normalise.phone_e164("phone"),
                "street": normalise.name("street"),
                "city": normalise.name("city"),
                "country": normalise.country_code("country"),
            }
        )
        .select(STAGED_COLUMNS)
        .orderBy("customer_id")
    )
