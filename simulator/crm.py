"""The CRM's view of people: customer records as the CRM's MySQL database holds them."""

from __future__ import annotations

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from simulator.clock import day_start

CRM_SHARE = 0.85  # of people who ever became a CRM customer
PHONE_STYLES = ("{a}-{b}-{c}", "({a}) {b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}")


def crm_customers(people: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The CRM `customers` table on day 0, derived from the hidden people.

    Returns:
        customer_id, person_id (truth, not in the CRM table), first_name, last_name, email,
        phone, signup_date, lifetime_value, is_active, updated_at.
    """
    rng = np.random.default_rng([seed, 1])
    chosen = people.filter(pl.Series(rng.random(people.height) < CRM_SHARE))
    n = chosen.height
    start = day_start(0)
    signup_days = rng.integers(1, 3 * 365, n)
    updated_offsets_us = rng.integers(0, 86_400_000_000, n)
    style = rng.integers(0, len(PHONE_STYLES), n)
    digits = chosen["phone"].str.slice(2)
    # The CRM keeps phones the way agents typed them; staging normalises them back.
    phones = [
        PHONE_STYLES[s].format(a=d[:3], b=d[3:6], c=d[6:])
        for s, d in zip(style.tolist(), digits.to_list(), strict=True)
    ]
    # Emails typed in the CRM carry stray capitals and spaces now and then.
    shout = rng.random(n) < 0.05
    return chosen.select(
        customer_id=pl.format("C{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(8)),
        person_id=pl.col("person_id"),
        first_name=pl.col("first_name"),
        last_name=pl.col("last_name"),
        email=pl.when(pl.Series(shout))
        .then(pl.concat_str(pl.lit(" "), pl.col("email").str.to_uppercase()))
        .otherwise(pl.col("email")),
        phone=pl.Series(phones),
        signup_date=pl.lit(start.date()) - pl.duration(days=pl.lit(pl.Series(signup_days))),
        lifetime_value=pl.Series(np.round(rng.lognormal(5.0, 1.2, n), 2)),
        is_active=pl.Series(rng.random(n) < 0.9),
        updated_at=pl.lit(start) + pl.duration(microseconds=pl.lit(pl.Series(updated_offsets_us))),
    )


TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

CUSTOMERS = sa.Table(
    "customers",
    sa.MetaData(),
    sa.Column("customer_id", sa.String(16), primary_key=True),
    sa.Column("first_name", sa.String(80)),
    sa.Column("last_name", sa.String(80)),
    sa.Column("email", sa.String(160)),
    sa.Column("phone", sa.String(40)),
    sa.Column("signup_date", sa.Date),
    # Double, not Float: MySQL/MariaDB FLOAT is single precision and drops the cents above 10k.
    sa.Column("lifetime_value", sa.Double),
    sa.Column("is_active", sa.Boolean),
    sa.Column("updated_at", TIMESTAMP, nullable=False, index=True),
)
