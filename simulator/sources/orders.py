"""Orders (PostgreSQL in production): a product catalog, orders, order items and payments.

People buy now and then: CRM customers mostly logged in (the order carries their
`customer_id`), sometimes as guests, and people without a CRM record always as guests,
who leave only an email and/or a phone as they typed it. An order's whole life is drawn
when it is placed (shipped, delivered, maybe refunded; or cancelled), and each day emits
the steps that fall in it, so an order's `updated_at` only moves forward. Cancellations
and refunds are negative payment rows. Money is drawn in integer cents and stored as
NUMERIC(12, 2): per order, `sum(line_total) = order_total = sum(positive payments)`.

Day 0 carries `HISTORY_DAYS` days of orders up to its end. The family reads the CRM's
state saved for the same day (`world/crm/day=NNNN.parquet`), so the world must emit the
CRM before the orders every day.

State kept between days (under `world/`): `orders` (orders whose life is not over yet,
money in cents, with their planned steps), `orders_catalog` (the products, prices in
cents) and `orders_sequences` (the last id each table handed out).
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine

from simulator import noise
from simulator.clock import day_start
from simulator.context import DayContext, Emission, Emitted
from simulator.emitters.database import apply_changes, connect, replace_rows
from simulator.sources import crm
from simulator.truth import frame_checksum

NAME = "orders"
CATALOG_STATE = "orders_catalog"
SEQUENCES_STATE = "orders_sequences"
HISTORY_DAYS = 60
PRODUCT_COUNT = 500
DAILY_ORDER_RATE = 0.018  # orders per person per day, on average
GUEST_SHARE = 0.12  # of CRM customers' orders placed without logging in
CANCEL_SHARE = 0.04
REFUND_SHARE = 0.06  # of delivered orders
SPLIT_PAYMENT_SHARE = 0.06  # of orders over MIN_SPLIT_CENTS, part paid by gift card
MIN_SPLIT_CENTS = 2_000
DAILY_PRICE_CHANGE_RATE = 0.01  # of products
CURRENCY = "USD"
MAX_LINES = 6
QUANTITIES = (1, 2, 3)
QUANTITY_WEIGHTS = (0.8, 0.15, 0.05)
METHODS = ("card", "paypal", "apple_pay", "gift_card")
METHOD_WEIGHTS = (0.68, 0.17, 0.10, 0.05)
# Guests leave both contacts, an email only, or a phone only.
GUEST_CONTACTS = (0.80, 0.12, 0.08)
LOGGED_IN_PHONE_SHARE = 0.7
LANDLINE_SHARE = 0.15  # of phones given that are the household's landline, if it has one

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

CATEGORIES: dict[str, tuple[int, tuple[str, ...]]] = {
    # category: (median price in dollars, product kinds)
    "apparel": (30, ("T-Shirt", "Hoodie", "Jacket", "Jeans", "Socks", "Dress")),
    "footwear": (70, ("Sneakers", "Boots", "Sandals", "Loafers", "Running Shoes")),
    "home": (40, ("Throw Blanket", "Table Lamp", "Cushion", "Wall Clock", "Rug")),
    "kitchen": (35, ("Chef Knife", "Skillet", "Coffee Grinder", "Mixing Bowls", "Kettle")),
    "electronics": (90, ("Headphones", "Speaker", "Charger", "Smartwatch", "Webcam")),
    "beauty": (20, ("Face Cream", "Shampoo", "Lip Balm", "Perfume", "Hair Dryer")),
    "sports": (35, ("Yoga Mat", "Dumbbells", "Water Bottle", "Tennis Racket", "Backpack")),
    "toys": (25, ("Puzzle", "Building Blocks", "Plush Bear", "Board Game", "RC Car")),
}
ADJECTIVES = ("Classic", "Everyday", "Premium", "Lightweight", "Compact", "Organic", "Deluxe")
COLORS = ("Black", "White", "Navy", "Grey", "Red", "Green", "Sand", "Blue")

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MONEY = sa.Numeric(12, 2)
MONEY_TYPE = pl.Decimal(12, 2)
UTC_US = pl.Datetime("us", "UTC")

# No foreign keys: the emitter replaces rows by delete and insert, which a parent row's
# constraint would refuse.
METADATA = sa.MetaData()
PRODUCTS = sa.Table(
    "products",
    METADATA,
    sa.Column("product_id", sa.String(16), primary_key=True),
    sa.Column("sku", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("price", MONEY, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False, index=True),
)
ORDERS = sa.Table(
    "orders",
    METADATA,
    sa.Column("order_id", sa.String(16), primary_key=True),
    sa.Column("customer_id", sa.String(16), index=True),
    sa.Column("email", sa.String(160)),
    sa.Column("phone", sa.String(40)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("order_total", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("ordered_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False, index=True),
)
ORDER_ITEMS = sa.Table(
    "order_items",
    METADATA,
    sa.Column("order_item_id", sa.String(16), primary_key=True),
    sa.Column("order_id", sa.String(16), nullable=False, index=True),
    sa.Column("product_id", sa.String(16), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", MONEY, nullable=False),
    sa.Column("line_total", MONEY, nullable=False),
)
PAYMENTS = sa.Table(
    "payments",
    METADATA,
    sa.Column("payment_id", sa.String(16), primary_key=True),
    sa.Column("order_id", sa.String(16), nullable=False, index=True),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("paid_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False, index=True),
)
TABLES = (PRODUCTS, ORDERS, ORDER_ITEMS, PAYMENTS)

# The steps of an order's life after it is placed, latest status first.
STEPS = {
    "refunded": "refunded_at",
    "cancelled": "cancelled_at",
    "delivered": "delivered_at",
    "shipped": "shipped_at",
}
ORDER_STATE_SCHEMA = pl.Schema(
    {
        "order_id": pl.String(),
        "person_id": pl.String(),
        "customer_id": pl.String(),
        "email": pl.String(),
        "phone": pl.String(),
        "order_total": pl.Int64(),  # cents
        "currency": pl.String(),
        "method": pl.String(),  # the main payment's; refunds go back to it
        "ordered_at": UTC_US,
        **dict.fromkeys(reversed(STEPS.values()), UTC_US),
    }
)
SEQUENCES = ("order", "order_item", "payment")
ID_FORMATS = {"order": ("O", 9), "order_item": ("OI", 10), "payment": ("PAY", 10)}


class CrmStateMissingError(RuntimeError):
    """The CRM has not emitted the day yet; orders need its customers."""


class OrdersSource:
    """The orders family: `products`, `orders`, `order_items` and `payments` in the orders
    database (`sources.orders_url`)."""

    name = NAME

    def emit(self, ctx: DayContext) -> Emission:
        """Emit `ctx.day`'s orders; the CRM must have emitted the same day first.

        Raises:
            CrmStateMissingError: the CRM's state for `ctx.day` is not there.
        """
        url = ctx.settings.resolved_sources().orders_url
        assert url, "every profile names an orders database"
        engine = connect(url)
        accounts = crm_accounts(ctx)
        until = day_start(ctx.day + 1)
        if ctx.day == 0:
            since = ctx.start - timedelta(days=HISTORY_DAYS)
            before = after = initial_catalog(ctx, before=since)
            products = after
            open_orders = pl.DataFrame(schema=ORDER_STATE_SCHEMA)
            last_ids = dict.fromkeys(SEQUENCES, 0)
        else:
            since = ctx.start
            before = _state(ctx, CATALOG_STATE)
            after, products = reprice(ctx, before)
            open_orders = _state(ctx, NAME)
            sequences = _state(ctx, SEQUENCES_STATE)
            last_ids = dict(zip(sequences["sequence"], sequences["last_value"], strict=True))
        new, items = place_orders(
            ctx,
            before,
            after,
            accounts,
            since=since,
            until=until,
            first_order=last_ids["order"] + 1,
            first_item=last_ids["order_item"] + 1,
        )
        orders = pl.concat([open_orders, new])
        touched = orders.filter(
            pl.any_horizontal(
                pl.col(c).is_between(since, until, closed="left")
                for c in ["ordered_at", *STEPS.values()]
            )
        )
        payments = day_payments(ctx, new, touched, since, until, first_id=last_ids["payment"] + 1)
        emitted = {
            PRODUCTS: products.select(
                "product_id", "sku", "name", "category", _money("price"), "updated_at"
            ),
            ORDERS: touched.select(
                "order_id",
                "customer_id",
                "email",
                "phone",
                status=_status_at(until),
                order_total=_money("order_total"),
                currency="currency",
                ordered_at="ordered_at",
                updated_at=_updated_at(until),
            ),
            ORDER_ITEMS: items.with_columns(_money("unit_price"), _money("line_total")),
            PAYMENTS: payments.with_columns(_money("amount")),
        }
        for table, frame in emitted.items():
            _write(engine, ctx.day, table, frame)
        engine.dispose()

        last_ids |= {
            "order": last_ids["order"] + new.height,
            "order_item": last_ids["order_item"] + items.height,
            "payment": last_ids["payment"] + payments.height,
        }
        ctx.save_state(
            NAME, orders.filter(pl.max_horizontal("ordered_at", *STEPS.values()) >= until)
        )
        ctx.save_state(CATALOG_STATE, after)
        ctx.save_state(
            SEQUENCES_STATE,
            pl.DataFrame(
                {"sequence": list(SEQUENCES), "last_value": [last_ids[s] for s in SEQUENCES]},
                schema={"sequence": pl.String, "last_value": pl.Int64},
            ),
        )
        return Emission(
            datasets=[
                Emitted(
                    f"{NAME}.{table.name}",
                    frame.height,
                    frame_checksum(frame, _key(table)),
                )
                for table, frame in emitted.items()
            ],
            truth=new.select(
                source=pl.lit(NAME), source_record_id="order_id", person_id="person_id"
            ),
        )


def crm_accounts(ctx: DayContext) -> pl.DataFrame:
    """Each CRM customer's shop account: person_id, customer_id, signup_date.

    A person with two CRM records logs in with the older one.

    Raises:
        CrmStateMissingError: the CRM's state for `ctx.day` is not there.
    """
    path = ctx.world_dir / crm.NAME / f"day={ctx.day:04d}.parquet"
    if not path.exists():
        raise CrmStateMissingError(
            f"no CRM state for day {ctx.day} at {path}: emit the CRM family before the orders"
        )
    customers = pl.read_parquet(path, columns=["person_id", "customer_id", "signup_date"])
    return customers.sort("customer_id").unique("person_id", keep="first", maintain_order=True)


def initial_catalog(ctx: DayContext, *, before: datetime) -> pl.DataFrame:
    """The product catalog, last changed some time before `before`.

    Returns:
        product_id, sku, name, category, price (cents), popularity (a weight, not
        emitted), updated_at.
    """
    rng = ctx.rng("orders.catalog")
    n = PRODUCT_COUNT
    names = list(CATEGORIES)
    category = rng.integers(0, len(names), n)
    kind = rng.integers(0, 1_000, n)
    medians = np.array([CATEGORIES[c][0] for c in names], dtype=np.float64)[category]
    dollars = np.maximum(2, np.round(medians * rng.lognormal(0.0, 0.5, n)))
    ids = np.arange(1, n + 1)
    frame = pl.DataFrame(
        {
            "n": ids,
            "category": np.array(names)[category],
            "adjective": np.array(ADJECTIVES)[rng.integers(0, len(ADJECTIVES), n)],
            "color": np.array(COLORS)[rng.integers(0, len(COLORS), n)],
            "kind": [
                CATEGORIES[names[c]][1][k % len(CATEGORIES[names[c]][1])]
                for c, k in zip(category.tolist(), kind.tolist(), strict=True)
            ],
            "price": (dollars * 100 - 1).astype(np.int64),
            "popularity": rng.lognormal(0.0, 1.0, n),
            "age_us": rng.integers(0, 300 * DAY_US, n),
        }
    )
    return frame.select(
        product_id=pl.format("PRD{}", pl.col("n").cast(pl.String).str.zfill(5)),
        sku=pl.format(
            "{}-{}",
            pl.col("category").str.slice(0, 3).str.to_uppercase(),
            pl.col("n").cast(pl.String).str.zfill(5),
        ),
        name=pl.format("{} {} {}", "adjective", "color", "kind"),
        category="category",
        price="price",
        popularity="popularity",
        updated_at=pl.lit(before) - pl.duration(microseconds=pl.col("age_us")) - timedelta(days=1),
    )


def reprice(ctx: DayContext, catalog: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Some products' prices change during `ctx.day`.

    Returns:
        The catalog at the end of the day, and the products changed.
    """
    rng = ctx.rng("orders.prices")
    n = catalog.height
    hit = rng.random(n) < DAILY_PRICE_CHANGE_RATE
    factor = rng.uniform(0.8, 1.25, n)
    at = rng.integers(0, DAY_US, n)
    repriced = catalog.with_columns(
        changed=pl.Series(hit),
        new_price=pl.Series(
            np.maximum(199, np.round(catalog["price"].to_numpy() / 100 * factor) * 100 - 1)
        ).cast(pl.Int64),
        changed_at=pl.lit(ctx.start) + pl.duration(microseconds=pl.lit(pl.Series(at))),
    ).with_columns(
        price=pl.when("changed").then("new_price").otherwise("price"),
        updated_at=pl.when("changed").then("changed_at").otherwise("updated_at"),
    )
    after = repriced.select(catalog.columns)
    return after, after.filter(repriced["changed"])


def place_orders(
    ctx: DayContext,
    before: pl.DataFrame,
    after: pl.DataFrame,
    accounts: pl.DataFrame,
    *,
    since: datetime,
    until: datetime,
    first_order: int,
    first_item: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The orders people place between `since` and `until`, with their whole planned life.

    Args:
        before, after: the catalog at `since` and at `until`; an order pays the price in
            force when it was placed.
        accounts: CRM customers' accounts (`crm_accounts`).
        first_order, first_item: the ids to number new orders and items from.

    Returns:
        The new orders (`ORDER_STATE_SCHEMA`, in id order) and their items (the
        `order_items` columns, money in cents).
    """
    rng = ctx.rng("orders.placed")
    span_us = int((until - since) / timedelta(microseconds=1))
    rate = DAILY_ORDER_RATE * span_us / DAY_US * _appetite(ctx)
    counts = np.where(ctx.people["is_churned"].to_numpy(), 0, rng.poisson(rate))
    buyers = ctx.people.select("person_id", "email", "phone", "home_phone")[
        np.repeat(np.arange(ctx.people.height), counts)
    ]
    orders = (
        buyers.with_columns(
            ordered_at=pl.lit(since)
            + pl.duration(microseconds=pl.lit(pl.Series(rng.integers(0, span_us, buyers.height))))
        )
        .sort("ordered_at", "person_id")
        .with_columns(order_id=_ids("order", first_order, buyers.height))
        .join(accounts, on="person_id", how="left", maintain_order="left")
    )
    m = orders.height
    logged_in = (
        orders["customer_id"].is_not_null()
        & (orders["ordered_at"].dt.date() >= orders["signup_date"])
        & pl.Series(rng.random(m) >= GUEST_SHARE)
    ).fill_null(False)
    orders = orders.with_columns(
        customer_id=pl.when(logged_in).then("customer_id"),
        **_contacts(ctx, orders, logged_in, rng),
    )

    lines = 1 + np.minimum(rng.poisson(0.7, m), MAX_LINES - 1)
    of_order = np.repeat(np.arange(m), lines)
    product = rng.choice(after.height, size=len(of_order), p=_weights(after["popularity"]))
    quantity = rng.choice(QUANTITIES, size=len(of_order), p=QUANTITY_WEIGHTS)
    ordered_us = orders["ordered_at"].dt.epoch("us").to_numpy()[of_order]
    repriced_us = after["updated_at"].dt.epoch("us").to_numpy()[product]
    unit = np.where(
        ordered_us >= repriced_us,
        after["price"].to_numpy()[product],
        before["price"].to_numpy()[product],
    )
    line_total = unit * quantity
    items = pl.DataFrame(
        {
            "order_item_id": _ids("order_item", first_item, len(of_order)),
            "order_id": orders["order_id"].gather(of_order),
            "product_id": after["product_id"].gather(product),
            "quantity": quantity.astype(np.int32),
            "unit_price": unit.astype(np.int64),
            "line_total": line_total.astype(np.int64),
        }
    )
    totals = np.bincount(of_order, weights=line_total, minlength=m).round().astype(np.int64)
    life = _life(rng, m)
    planned = orders.with_columns(
        order_total=pl.Series(totals),
        currency=pl.lit(CURRENCY),
        method=pl.Series(rng.choice(METHODS, size=m, p=METHOD_WEIGHTS)).cast(pl.String),
        **{
            column: pl.when(pl.Series(offsets >= 0)).then(
                pl.col("ordered_at") + pl.duration(microseconds=pl.lit(pl.Series(offsets)))
            )
            for column, offsets in life.items()
        },
    )
    return planned.select(list(ORDER_STATE_SCHEMA)).cast(ORDER_STATE_SCHEMA), items


def day_payments(
    ctx: DayContext,
    new: pl.DataFrame,
    touched: pl.DataFrame,
    since: datetime,
    until: datetime,
    *,
    first_id: int,
) -> pl.DataFrame:
    """The payments of `since`..`until`: each new order paid at checkout (a few split with
    a gift card), and a refund for each order cancelled or refunded in the window.

    Returns:
        The `payments` columns, money in cents, ids in time order.
    """
    rng = ctx.rng("orders.payments")
    split = (
        (new["order_total"] >= MIN_SPLIT_CENTS)
        & (new["method"] != "gift_card")
        & pl.Series(rng.random(new.height) < SPLIT_PAYMENT_SHARE)
    )
    gift = np.where(
        split.to_numpy(),
        (new["order_total"].to_numpy() * rng.uniform(0.1, 0.5, new.height)).astype(np.int64),
        0,
    )
    paid = new.select("order_id", "method", "order_total", "ordered_at").with_columns(
        gift=pl.Series(gift)
    )
    charges = pl.concat(
        [
            paid.select(
                "order_id",
                "method",
                amount=pl.col("order_total") - pl.col("gift"),
                paid_at="ordered_at",
                part=pl.lit(0),
            ),
            paid.filter(pl.col("gift") > 0).select(
                "order_id",
                method=pl.lit("gift_card"),
                amount="gift",
                paid_at="ordered_at",
                part=pl.lit(1),
            ),
        ]
    )
    refunds = touched.select(
        "order_id",
        "method",
        amount=-pl.col("order_total"),
        paid_at=pl.coalesce("cancelled_at", "refunded_at"),
        part=pl.lit(2),
    ).filter(pl.col("paid_at").is_between(since, until, closed="left"))
    payments = pl.concat([charges, refunds]).sort("paid_at", "order_id", "part")
    return payments.select(
        payment_id=_ids("payment", first_id, payments.height),
        order_id="order_id",
        method="method",
        amount="amount",
        paid_at="paid_at",
        updated_at="paid_at",
    )


def _life(rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
    """Each order's planned steps, as microseconds after it was placed (-1: never)."""
    cancelled = rng.random(m) < CANCEL_SHARE
    refunded = ~cancelled & (rng.random(m) < REFUND_SHARE)
    shipped = rng.integers(4 * HOUR_US, 72 * HOUR_US, m)
    delivered = shipped + rng.integers(DAY_US, 6 * DAY_US, m)
    never = np.full(m, -1, np.int64)
    return {
        "shipped_at": np.where(cancelled, never, shipped),
        "delivered_at": np.where(cancelled, never, delivered),
        "cancelled_at": np.where(cancelled, rng.integers(10 * MINUTE_US, 36 * HOUR_US, m), never),
        "refunded_at": np.where(refunded, delivered + rng.integers(DAY_US, 28 * DAY_US, m), never),
    }


def _contacts(
    ctx: DayContext, orders: pl.DataFrame, logged_in: pl.Series, rng: np.random.Generator
) -> dict[str, pl.Expr]:
    """The email and phone on each order: a logged-in customer's account email, or what
    a guest typed (with typos), and a phone as typed, now and then the family landline."""
    m = orders.height
    contact = pl.Series(rng.choice(3, size=m, p=GUEST_CONTACTS))
    has_email = logged_in | (contact != 2)
    has_phone = pl.Series(
        np.where(
            logged_in.to_numpy(), rng.random(m) < LOGGED_IN_PHONE_SHARE, (contact != 1).to_numpy()
        )
    )
    typed = noise.stray_case(
        noise.typo(orders["email"].to_list(), rng, ctx.settings.simulator.typo_rate), rng, 0.02
    )
    landline = pl.Series(rng.random(m) < LANDLINE_SHARE) & orders["home_phone"].is_not_null()
    phone = orders.select(pl.when(landline).then("home_phone").otherwise("phone")).to_series()
    styled = noise.phone_styles(phone.to_list(), rng)
    return {
        "email": pl.when(has_email).then(
            pl.when(logged_in).then("email").otherwise(pl.Series(typed, dtype=pl.String))
        ),
        "phone": pl.when(has_phone).then(pl.Series(styled, dtype=pl.String)),
    }


def _appetite(ctx: DayContext) -> np.ndarray:
    # How often a person shops is a trait, the same every day: drawn in population order
    # from a generator seeded without the day (mean 1, most people rarely, a few often).
    rng = np.random.default_rng([ctx.seed, zlib.crc32(b"orders.appetite")])
    return rng.exponential(1.0, ctx.people.height)


def _weights(popularity: pl.Series) -> np.ndarray:
    weights = popularity.to_numpy()
    return weights / weights.sum()


def _ids(sequence: str, first: int, count: int) -> pl.Series:
    prefix, width = ID_FORMATS[sequence]
    numbers = pl.int_range(first, first + count, dtype=pl.Int64).cast(pl.String)
    return pl.select(pl.format(f"{prefix}{{}}", numbers.str.zfill(width))).to_series()


def _money(column: str) -> pl.Expr:
    """Integer cents as NUMERIC(12, 2): exact, so sums of parts equal their totals."""
    return (pl.col(column).cast(MONEY_TYPE) / 100).cast(MONEY_TYPE).alias(column)


def _status_at(until: datetime) -> pl.Expr:
    """The status as of `until`: the latest step taken by then."""
    taken = [pl.when(pl.col(c) < until).then(pl.lit(status)) for status, c in STEPS.items()]
    return pl.coalesce(*taken, pl.lit("placed"))


def _updated_at(until: datetime) -> pl.Expr:
    done = [pl.when(pl.col(c) < until).then(c) for c in STEPS.values()]
    return pl.max_horizontal("ordered_at", *done)


def _state(ctx: DayContext, name: str) -> pl.DataFrame:
    state = ctx.load_state(name)
    assert state is not None, f"day {ctx.day - 1} of {name} must be emitted before day {ctx.day}"
    return state


def _key(table: sa.Table) -> str:
    (key,) = table.primary_key.columns
    return str(key.name)


def _write(engine: Engine, day: int, table: sa.Table, frame: pl.DataFrame) -> None:
    columns = [c.name for c in table.columns]
    if day == 0:
        replace_rows(engine, table, frame.select(columns))
    else:
        # Delete-and-insert by key, so that re-emitting a day after a crash is harmless.
        apply_changes(engine, table, frame.select(columns), pl.Series(_key(table), [], pl.String))
