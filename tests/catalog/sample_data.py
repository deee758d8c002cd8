"""Small frames shaped like the lakehouse's tables, for the catalog tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

INGESTED_AT = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)


def crm_customer_rows(
    customer_ids: Sequence[str], *, batch_id: str, ingested_at: dt.datetime = INGESTED_AT
) -> pa.Table:
    """Rows for `raw.crm_customers`, one per id, in table column order."""
    n = len(customer_ids)
    return pa.table(
        {
            "customer_id": list(customer_ids),
            "first_name": [f"First{i}" for i in customer_ids],
            "last_name": [f"Last{i}" for i in customer_ids],
            "email": [f"{i}@example.com" for i in customer_ids],
            "phone": [None] * n,
            "street": [f"{k} Main St" for k in range(n)],
            "city": ["Springfield"] * n,
            "state": ["IL"] * n,
            "postcode": ["62701"] * n,
            "country": ["US"] * n,
            "signup_date": pa.array([dt.date(2023, 1, 1)] * n, pa.date32()),
            "lifetime_value": [float(k) for k in range(n)],
            "is_active": [k % 2 == 0 for k in range(n)],
            "updated_at": pa.array([INGESTED_AT] * n, pa.timestamp("us", tz="UTC")),
            "_cdc_operation": ["insert"] * n,
            "_source_committed_at": pa.array([INGESTED_AT] * n, pa.timestamp("us", tz="UTC")),
            "_source": ["crm.customers"] * n,
            "_batch_id": [batch_id] * n,
            "_ingested_at": pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")),
            "_source_file": pa.nulls(n, pa.string()),
            "_source_position": pa.nulls(n, pa.string()),
        }
    )
