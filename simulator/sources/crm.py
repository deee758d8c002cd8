"""The CRM (MySQL in production): customer records, changed and deleted day by day.

Some people have two CRM records (duplicates typed by different agents), some have none;
life events (moves, new emails, name changes, churn) reach the CRM as updates and deletes
with an `updated_at` that only moves forward (except under the `clock_skew` fault).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from simulator import noise
from simulator.context import DayContext, Emission, Emitted
from simulator.emitters.database import apply_changes, connect, replace_rows
from simulator.truth import frame_checksum

NAME = "crm"
DATASET = "crm.customers"
CRM_SHARE = 0.85  # of people who are CRM customers on day 0
DAILY_SIGNUP_RATE = 0.002  # of people not yet customers
DAILY_VALUE_CHANGE_RATE = 0.01  # of customers whose lifetime value grows
HARD_DELETE_SHARE = 0.5  # of churned customers deleted rather than deactivated
DRIFT_COLUMN = "loyalty_tier"
# The highest customer number ever issued: deleted customers' ids are never issued again.
ISSUED = "crm_issued"

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

CUSTOMERS = sa.Table(
    "customers",
    sa.MetaData(),
    sa.Column("customer_id", sa.String(16), primary_key=True),
    sa.Column("first_name", sa.String(80)),
    sa.Column("last_name", sa.String(80)),
    sa.Column("email", sa.String(160)),
    sa.Column("phone", sa.String(40)),
    sa.Column("street", sa.String(120)),
    sa.Column("city", sa.String(80)),
    sa.Column("state", sa.String(8)),
    sa.Column("postcode", sa.String(16)),
    sa.Column("country", sa.String(8)),
    sa.Column("signup_date", sa.Date),
    sa.Column("lifetime_value", sa.Double),
    sa.Column("is_active", sa.Boolean),
    sa.Column("updated_at", TIMESTAMP, nullable=False, index=True),
)
COLUMNS = [c.name for c in CUSTOMERS.columns]
ADDRESS = ["street", "city", "state", "postcode"]


class CrmSource:
    """The CRM family: `customers` in the CRM database (`sources.crm_url`)."""

    name = NAME

    def emit(self, ctx: DayContext) -> Emission:
        url = ctx.settings.resolved_sources().crm_url
        assert url, "every profile names a CRM database"
        engine = connect(url)
        try:
            state = ctx.load_state(NAME)
            if state is None:
                state = initial_customers(ctx)
                replace_rows(engine, CUSTOMERS, state)
                upserts, deletes, new = state, pl.Series("customer_id", [], pl.String), state
            else:
                upserts, deletes, new = daily_changes(ctx, state)
                extra = [DRIFT_COLUMN] if DRIFT_COLUMN in upserts.columns else []
                apply_changes(engine, CUSTOMERS, upserts.select(COLUMNS + extra), deletes, extra)
                gone = pl.concat([upserts["customer_id"], deletes]).implode()
                kept = state.filter(~pl.col("customer_id").is_in(gone))
                state = pl.concat([kept, upserts.select(state.columns)]).sort("customer_id")
        finally:
            engine.dispose()
        ctx.save_state(NAME, state)
        ctx.save_state(ISSUED, pl.DataFrame({"last_number": [_next_number(ctx, state) - 1]}))
        emitted = upserts.drop("person_id")
        return Emission(
            datasets=[
                Emitted(
                    DATASET, emitted.height, frame_checksum(emitted, "customer_id"), deletes.len()
                )
            ],
            truth=new.select(
                source=pl.lit(NAME), source_record_id="customer_id", person_id="person_id"
            ),
        )


def initial_customers(ctx: DayContext) -> pl.DataFrame:
    """The CRM on day 0: most people once, a few twice, with typing noise."""
    rng = ctx.rng("crm.initial")
    people = ctx.people.filter(pl.Series(rng.random(ctx.people.height) < CRM_SHARE))
    dupes = people.filter(
        pl.Series(rng.random(people.height) < ctx.settings.simulator.duplicate_customer_rate)
    )
    # A duplicate is the same person typed again: often another email, another phone style.
    dupes = dupes.with_columns(
        email=pl.Series(noise.typo(dupes["email"].to_list(), rng, 0.5), dtype=pl.String)
    )
    records = pl.concat([people, dupes]).sort("person_id", maintain_order=True)
    return _as_crm_rows(ctx, records, rng, signup_days_back=3 * 365)


def daily_changes(
    ctx: DayContext, state: pl.DataFrame
) -> tuple[pl.DataFrame, pl.Series, pl.DataFrame]:
    """The CRM's changes on `ctx.day`: life events reach the customer's rows, some
    customers' lifetime value grows, churned ones are deactivated or deleted, and new
    people sign up.

    Returns:
        Rows inserted or updated (with person_id), customer ids deleted, and the new rows.
    """
    rng = ctx.rng("crm.daily")
    n = state.height

    def hit(event: str) -> pl.Expr:
        people = ctx.events.filter(pl.col("event") == event)["person_id"]
        return pl.col("person_id").is_in(people.implode())

    truth = ctx.people.select("person_id", "email", "last_name", *ADDRESS)
    flagged = state.join(truth, on="person_id", suffix="_true", maintain_order="left").with_columns(
        moved=hit("move"),
        renamed=hit("name_change"),
        new_email=hit("new_email"),
        churned=hit("churn"),
        hard_delete=pl.lit(pl.Series(rng.random(n) < HARD_DELETE_SHARE)),
        grows=pl.lit(pl.Series(rng.random(n) < DAILY_VALUE_CHANGE_RATE)),
        bump=pl.lit(pl.Series(np.round(rng.lognormal(3.5, 0.8, n), 2))),
    )
    deletes = flagged.filter(pl.col("churned") & pl.col("hard_delete"))["customer_id"]
    changed = flagged.filter(
        pl.any_horizontal("moved", "renamed", "new_email", "churned", "grows")
        & ~(pl.col("churned") & pl.col("hard_delete"))
    ).with_columns(
        *[pl.when("moved").then(f"{c}_true").otherwise(c).alias(c) for c in ADDRESS],
        last_name=pl.when("renamed").then("last_name_true").otherwise("last_name"),
        email=pl.when("new_email").then("email_true").otherwise("email"),
        is_active=pl.when("churned").then(pl.lit(False)).otherwise("is_active"),
        lifetime_value=pl.when("grows")
        .then((pl.col("lifetime_value") + pl.col("bump")).round(2))
        .otherwise("lifetime_value"),
    )
    prospects = ctx.people.filter(
        ~pl.col("person_id").is_in(state["person_id"].implode()) & ~pl.col("is_churned")
    )
    signups = prospects.filter(pl.Series(rng.random(prospects.height) < DAILY_SIGNUP_RATE))
    new = _as_crm_rows(ctx, signups, rng, signup_days_back=0, first_id=_next_number(ctx, state))
    upserts = _stamp(ctx, pl.concat([changed.select(state.columns), new]), rng)
    if ctx.fault("schema_drift"):
        tiers = np.array(["gold", "silver", "bronze"])[rng.integers(0, 3, upserts.height)]
        upserts = upserts.with_columns(pl.Series(DRIFT_COLUMN, tiers))
    new_ids = new["customer_id"].implode()
    return upserts, deletes.sort(), upserts.filter(pl.col("customer_id").is_in(new_ids))


def _next_number(ctx: DayContext, state: pl.DataFrame) -> int:
    """The number of the next customer id: above every id in `state` and every id issued
    before (a deleted customer's id stays retired, as a database sequence would keep it)."""
    numbers = state["customer_id"].str.slice(1).cast(pl.Int64)
    issued = ctx.load_state(ISSUED)
    if issued is not None:
        numbers = pl.concat([numbers, issued["last_number"].cast(pl.Int64)])
    last = numbers.max()
    return (last if isinstance(last, int) else 0) + 1


def _stamp(ctx: DayContext, rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """`updated_at` within the day, increasing with the row order (the CRM's commit order)."""
    offsets = np.sort(rng.integers(0, 86_400_000_000, rows.height))
    stamped = rows.with_columns(
        updated_at=pl.lit(ctx.start) + pl.duration(microseconds=pl.lit(pl.Series(offsets)))
    )
    if ctx.fault("clock_skew"):
        # A stream of its own: the fault moves some clocks and changes nothing else.
        skewed = pl.Series(ctx.rng("crm.clock_skew").random(rows.height) < 0.05)
        stamped = stamped.with_columns(
            updated_at=pl.when(skewed)
            .then(pl.col("updated_at") - timedelta(hours=3))
            .otherwise("updated_at")
        )
    return stamped


def _as_crm_rows(
    ctx: DayContext,
    people: pl.DataFrame,
    rng: np.random.Generator,
    *,
    signup_days_back: int,
    first_id: int = 1,
) -> pl.DataFrame:
    n = people.height
    rate = ctx.settings.simulator.typo_rate
    rows = people.select(
        customer_id=pl.format(
            "C{}", pl.int_range(first_id, first_id + n, dtype=pl.Int64).cast(pl.String).str.zfill(8)
        ),
        person_id="person_id",
        first_name=pl.Series(
            noise.typo(people["first_name"].to_list(), rng, rate), dtype=pl.String
        ),
        last_name=pl.Series(noise.typo(people["last_name"].to_list(), rng, rate), dtype=pl.String),
        # Agents type emails with stray capitals and spaces now and then.
        email=pl.Series(noise.stray_case(people["email"].to_list(), rng, 0.05), dtype=pl.String),
        phone=pl.Series(noise.phone_styles(people["phone"].to_list(), rng), dtype=pl.String),
        street="street",
        city="city",
        state="state",
        postcode="postcode",
        country="country",
        signup_date=pl.lit(ctx.date)
        - pl.duration(days=pl.lit(pl.Series(rng.integers(0, signup_days_back + 1, n)))),
        lifetime_value=pl.lit(pl.Series(np.round(rng.lognormal(5.0, 1.2, n), 2))),
        is_active=pl.lit(pl.Series(rng.random(n) < 0.92)),
    )
    return _stamp(ctx, rows, rng).select(["person_id", *COLUMNS])
