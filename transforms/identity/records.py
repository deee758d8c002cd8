"""Identity records: every staged record that says who someone is, in one shape.

Each source's staging table is narrowed to the same columns, with the source labels and
record ids of the simulator's truth (`crm`, `orders`, `clickstream`, `tickets`, `loyalty`,
`marketing`, `legacy`), so resolution results and truth join on `(source, source_record_id)`.
Staging has already normalised the values (trimmed lower-case emails, E.164 phones, ISO
countries, split and re-cased names).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

# The staging table each identity source is read from.
STAGING_TABLES = {
    "crm": "crm_customers",
    "orders": "orders",
    "clickstream": "clickstream_events",
    "tickets": "support_tickets",
    "loyalty": "loyalty_members",
    "marketing": "marketing_contacts",
    "legacy": "legacy_customers",
}

_CONTACT = ("first_name", "last_name", "email", "phone")
# The columns resolution reads from each staging table (events are many: read narrow).
STAGING_COLUMNS = {
    "crm_customers": (
        "customer_id",
        *_CONTACT,
        "street",
        "city",
        "state",
        "postcode",
        "country",
        "updated_at",
    ),
    "orders": ("order_id", "customer_id", "email", "phone", "ordered_at"),
    "clickstream_events": ("event_id", "device_id", "customer_id", "event_at"),
    "support_tickets": ("ticket_id", "customer_email", "body", "created_at"),
    "loyalty_members": ("member_id", *_CONTACT, "join_date"),
    "marketing_contacts": ("contact_id", *_CONTACT, "added_date"),
    "legacy_customers": ("legacy_id", *_CONTACT, "customer_since_date"),
}

# A ticket about an order quotes its number, e.g. "#O000001234".
ORDER_REFERENCE = r"#(O[0-9]{9})"

RECORD_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_record_id": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "street": pl.String(),
    "city": pl.String(),
    "state": pl.String(),
    "postcode": pl.String(),
    "country": pl.String(),
    "observed_at": pl.Datetime("us", "UTC"),
    "crm_ref": pl.String(),
    "order_ref": pl.String(),
    "device_id": pl.String(),
}


def _as_of(day: str) -> pl.Expr:
    return pl.col(day).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _shape(frame: pl.DataFrame, source: str, id_column: str, **columns: pl.Expr) -> pl.DataFrame:
    exprs = {name: columns.get(name, pl.lit(None)) for name in RECORD_SCHEMA}
    exprs["source"] = pl.lit(source)
    exprs["source_record_id"] = pl.col(id_column)
    return frame.select(
        **{
            name: expr.cast(dtype)
            for (name, expr), dtype in zip(exprs.items(), RECORD_SCHEMA.values(), strict=True)
        }
    )


def _names() -> dict[str, pl.Expr]:
    return {c: pl.col(c) for c in _CONTACT}


def identity_records(staged: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per staged record of every identity source, in `RECORD_SCHEMA`.

    Args:
        staged: the staging tables by their staging name (`STAGING_TABLES` values); a
            missing table contributes no records.
    """
    address = {c: pl.col(c) for c in ("street", "city", "state", "postcode", "country")}
    shapers = {
        "crm": lambda f: _shape(
            f, "crm", "customer_id", **_names(), **address, observed_at=pl.col("updated_at")
        ),
        "orders": lambda f: _shape(
            f,
            "orders",
            "order_id",
            email=pl.col("email"),
            phone=pl.col("phone"),
            crm_ref=pl.col("customer_id"),
            observed_at=pl.col("ordered_at"),
        ),
        "clickstream": lambda f: _shape(
            f,
            "clickstream",
            "event_id",
            crm_ref=pl.col("customer_id"),
            device_id=pl.col("device_id"),
            observed_at=pl.col("event_at"),
        ),
        "tickets": lambda f: _shape(
            f,
            "tickets",
            "ticket_id",
            email=pl.col("customer_email"),
            order_ref=pl.col("body").str.extract(ORDER_REFERENCE, 1),
            observed_at=pl.col("created_at"),
        ),
        "loyalty": lambda f: _shape(
            f, "loyalty", "member_id", **_names(), observed_at=_as_of("join_date")
        ),
        "marketing": lambda f: _shape(
            f, "marketing", "contact_id", **_names(), observed_at=_as_of("added_date")
        ),
        "legacy": lambda f: _shape(
            f, "legacy", "legacy_id", **_names(), observed_at=_as_of("customer_since_date")
        ),
    }
    frames = [
        shape(staged[STAGING_TABLES[source]])
        for source, shape in shapers.items()
        if STAGING_TABLES[source] in staged
    ]
    if not frames:
        return pl.DataFrame(schema=RECORD_SCHEMA)
    return pl.concat(frames)
