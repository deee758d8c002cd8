"""Clickstream (Kinesis in production): web and app events put on the stream as JSON.

People browse on 1 to 3 devices each (device ids stable across days). Each day some devices
have sessions of page views, searches, add-to-carts and checkouts; a session is anonymous
until its device's person logs in, and events from the login on carry the CRM
`customer_id` the person logged in with. The stream also sees what real collectors send:

- late events: a share (`late_event_rate`) of a day's events is held back and put on the
  stream the next day, keeping its original `event_at`;
- out-of-order events: a share (`out_of_order_rate`) is put on the stream minutes to hours
  after later events (an app buffering offline), so `event_at` does not follow put order;
- duplicates: a share (`duplicate_event_rate`) of the day's events is put twice, the same
  JSON with the same `event_id` (a producer retrying after a timeout).

Every record's partition key is its `device_id`, so a device's events share a shard.

Depends on the CRM family having emitted the same day first (its saved state is where the
customer ids come from): the world runs CRM before clickstream.

The manifest counts what was put on the stream: `clickstream.events` (every record,
duplicates included) and `clickstream.distinct_events` (one per `event_id`). Both checksums
are `events_checksum` of the records' JSON payloads, which a consumer can recompute from
what it read. Ground truth maps every distinct event to its person, and
`truth/devices/clickstream.parquet` maps every device to its person.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from simulator.context import DayContext, Emission, Emitted, write_atomically
from simulator.emitters.stream import Stream, open_stream
from simulator.sources import crm
from simulator.truth import frame_checksum

NAME = "clickstream"
DATASET = "clickstream.events"
DISTINCT_DATASET = "clickstream.distinct_events"
LATE_STATE = "clickstream.late"
DEVICES_TRUTH = Path("devices") / "clickstream.parquet"

DEVICE_COUNTS = (1, 2, 3)
DEVICE_COUNT_WEIGHTS = (0.45, 0.35, 0.20)
DEVICE_TYPES = ("web", "ios", "android")
DEVICE_TYPE_WEIGHTS = (0.5, 0.3, 0.2)
# Sessions a device has a day, on average; gamma-spread so a few devices are heavy users.
SESSIONS_PER_DEVICE_DAY = 0.08
ACTIVITY_SHAPE = 0.5
MEAN_SESSION_EVENTS = 6.5
MAX_SESSION_EVENTS = 60
MEAN_EVENT_GAP_MS = 35_000
CHECKOUT_SHARE = 0.08  # of sessions
LOGIN_SHARE = 0.3  # of sessions of people with an active CRM account
LOGIN_SHARE_AT_CHECKOUT = 0.8
PRODUCT_PAGE_SHARE = 0.55  # of page views
OUT_OF_ORDER_MEAN_DELAY_MS = 30 * 60_000
DUPLICATE_MEAN_DELAY_MS = 60_000
CLOCK_SKEW_DEVICE_SHARE = 0.05
CLOCK_SKEW_MS = 3 * 3_600_000
DAY_MS = 86_400_000
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
PUT_CHUNK = 5_000

# The orders family's catalog ids (`PRD00001`...), so viewed products join to ordered ones.
PRODUCT_COUNT = 500
EVENT_TYPES = ("page_view", "search", "add_to_cart", "checkout", "login")
PAGE_VIEW, SEARCH, ADD_TO_CART, CHECKOUT, LOGIN = range(len(EVENT_TYPES))
BROWSING_MIX = (0.62, 0.23, 0.15)  # page_view, search, add_to_cart
OTHER_PAGES = (
    "/",
    "/deals",
    "/account",
    "/help",
    "/category/home",
    "/category/outdoor",
    "/category/electronics",
    "/category/apparel",
    "/category/beauty",
    "/category/toys",
)
SEARCH_TERMS = (
    "running shoes",
    "rain jacket",
    "coffee maker",
    "wireless earbuds",
    "yoga mat",
    "desk lamp",
    "backpack",
    "phone case",
    "air fryer",
    "winter boots",
    "gift card",
    "sunglasses",
    "bluetooth speaker",
    "kids toys",
    "face cream",
    "tent",
    "water bottle",
    "hoodie",
    "usb c cable",
    "sale",
)
REFERRERS = ("google", "email", "direct", "social", "partner")
EVENT_FIELDS = (
    "event_id",
    "event_type",
    "event_at",
    "device_id",
    "session_id",
    "customer_id",
    "page",
    "query",
    "product_id",
)
DRIFT_FIELD = "referrer"
BATCH_SCHEMA = pl.Schema(
    {
        "event_id": pl.String(),
        "person_id": pl.String(),
        "device_id": pl.String(),
        "event_at": pl.Datetime("us", "UTC"),
        "emit_ms": pl.Int64(),
        "payload": pl.String(),
    }
)


class ClickstreamSource:
    """The clickstream family: JSON events on the stream (`sources.stream`)."""

    name = NAME

    def emit(self, ctx: DayContext) -> Emission:
        devices = ctx.load_state(NAME)
        if devices is None:
            devices = initial_devices(ctx)
        pending = ctx.load_state(LATE_STATE)
        if pending is None:
            pending = pl.DataFrame(schema=BATCH_SCHEMA)
        fresh = day_events(ctx, devices, crm_accounts(ctx))
        batch, held = stream_batch(ctx, fresh, pending)

        stream = open_stream(ctx.settings)
        try:
            put_once(stream, batch, ctx.world_dir / NAME, ctx.day)
        finally:
            stream.close()
        ctx.save_state(NAME, devices)
        ctx.save_state(LATE_STATE, held)
        (ctx.truth_dir / DEVICES_TRUTH.parent).mkdir(parents=True, exist_ok=True)
        write_atomically(
            devices.select("device_id", "person_id", "device_type"),
            ctx.truth_dir / DEVICES_TRUTH,
        )

        distinct = batch.unique("event_id", keep="first", maintain_order=True)
        return Emission(
            datasets=[
                Emitted(DATASET, batch.height, events_checksum(batch["payload"])),
                Emitted(DISTINCT_DATASET, distinct.height, events_checksum(distinct["payload"])),
            ],
            truth=distinct.select(
                source=pl.lit(NAME), source_record_id="event_id", person_id="person_id"
            ),
        )


def events_checksum(payloads: pl.Series) -> str:
    """The manifest's checksum of a day's records: independent of their order."""
    return frame_checksum(pl.DataFrame({"payload": payloads}), "payload")


def initial_devices(ctx: DayContext) -> pl.DataFrame:
    """Everyone's devices: 1 to 3 a person, each with its own daily session rate.

    Returns:
        device_id, person_id, device_type, sessions_per_day.
    """
    rng = ctx.rng("clickstream.devices")
    people = ctx.people["person_id"]
    counts = rng.choice(DEVICE_COUNTS, p=DEVICE_COUNT_WEIGHTS, size=people.len())
    n = int(counts.sum())
    return pl.DataFrame(
        {
            "device_id": uuids(rng, n),
            "person_id": np.repeat(people.to_numpy(), counts),
            "device_type": np.array(DEVICE_TYPES)[
                rng.choice(len(DEVICE_TYPES), p=DEVICE_TYPE_WEIGHTS, size=n)
            ],
            "sessions_per_day": rng.gamma(
                ACTIVITY_SHAPE, SESSIONS_PER_DEVICE_DAY / ACTIVITY_SHAPE, n
            ),
        },
        schema_overrides={"person_id": pl.String, "device_type": pl.String},
    )


def crm_accounts(ctx: DayContext) -> pl.DataFrame:
    """The active CRM accounts each person can log in with, from the CRM's state today.

    Raises:
        FileNotFoundError: the CRM family has not emitted `ctx.day` yet.
    """
    path = ctx.world_dir / crm.NAME / f"day={ctx.day:04d}.parquet"
    if not path.exists():
        raise FileNotFoundError(
            f"clickstream needs the CRM's state for day {ctx.day} ({path}): emit the CRM "
            "family for that day first"
        )
    return (
        pl.read_parquet(path, columns=["person_id", "customer_id", "is_active"])
        .filter("is_active")
        .group_by("person_id")
        .agg(pl.col("customer_id").sort())
    )


def day_events(ctx: DayContext, devices: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """The day's sessions and their events, in event time order within each session.

    Returns:
        One row per event: event_id, person_id, device_id, event_at, emit_ms (when the
        collector puts it on the stream, in ms since the day's start) and payload (the JSON).
    """
    rng = ctx.rng("clickstream.daily")
    churned = ctx.people.filter("is_churned")["person_id"].implode()
    rate = devices.select(
        pl.when(pl.col("person_id").is_in(churned)).then(0.0).otherwise("sessions_per_day")
    ).to_series()
    session_device = np.repeat(np.arange(devices.height), rng.poisson(rate.to_numpy()))
    sessions = (
        devices[session_device]
        .select("device_id", "person_id")
        .join(accounts, on="person_id", how="left", maintain_order="left")
    )
    s = sessions.height
    checkout = rng.random(s) < CHECKOUT_SHARE
    length = np.minimum(rng.geometric(1 / MEAN_SESSION_EVENTS, s), MAX_SESSION_EVENTS)
    length = np.where(checkout, np.maximum(length, 3), length)  # browse, add to cart, check out
    has_account = sessions["customer_id"].list.len().fill_null(0).to_numpy()
    logs_in = (has_account > 0) & (
        rng.random(s) < np.where(checkout, LOGIN_SHARE_AT_CHECKOUT, LOGIN_SHARE)
    )
    # Log in anywhere before the cart-and-checkout pair that closes a checkout session.
    login_at = (rng.random(s) * (length - 2 * checkout)).astype(np.int64)
    account = (rng.random(s) * has_account).astype(np.int64)
    sessions = sessions.with_columns(
        session_id=uuids(rng, s),
        customer_id=pl.when(pl.lit(pl.Series(logs_in))).then(
            pl.col("customer_id").list.get(pl.lit(pl.Series(account)), null_on_oob=True)
        ),
    )

    n = int(length.sum())
    session = np.repeat(np.arange(s), length)
    starts = np.cumsum(length) - length
    position = np.arange(n) - starts[session]
    kind = rng.choice(3, p=BROWSING_MIX, size=n)
    closes = checkout[session]
    kind[closes & (position == length[session] - 2)] = ADD_TO_CART
    kind[closes & (position == length[session] - 1)] = CHECKOUT
    kind[logs_in[session] & (position == login_at[session])] = LOGIN
    identified = logs_in[session] & (position >= login_at[session])

    gap = (rng.exponential(MEAN_EVENT_GAP_MS, n) + 1_000).astype(np.int64)
    gap[starts] = 0
    elapsed = np.cumsum(gap)
    offset = elapsed - elapsed[starts][session]
    duration = offset[starts + length - 1]
    begin = (rng.random(s) * (DAY_MS - duration)).astype(np.int64)
    event_ms = begin[session] + offset

    product = rng.choice(PRODUCT_COUNT, p=_popularity(PRODUCT_COUNT), size=n) + 1
    product_page = rng.random(n) < PRODUCT_PAGE_SHARE
    other_page = np.array(OTHER_PAGES)[rng.integers(0, len(OTHER_PAGES), n)]
    query = np.array(SEARCH_TERMS)[rng.integers(0, len(SEARCH_TERMS), n)]
    events = (
        sessions[session]
        .select("device_id", "person_id", "session_id", "customer_id")
        .with_columns(
            pl.DataFrame(
                {
                    "event_id": uuids(rng, n),
                    "kind": kind,
                    "identified": identified,
                    "event_ms": event_ms,
                    "product_n": product,
                    "product_page": product_page,
                    "other_page": other_page,
                    "term": query,
                },
                schema_overrides={"other_page": pl.String, "term": pl.String},
            )
        )
    )
    if ctx.fault("schema_drift"):
        # The collector's new release adds a field the pipeline has not seen. Drawn last, so
        # the day's other events are the same as without the fault.
        referrer = np.array(REFERRERS)[rng.integers(0, len(REFERRERS), n)]
        events = events.with_columns(pl.Series(DRIFT_FIELD, referrer, dtype=pl.String))
    events = events.with_columns(
        event_type=pl.col("kind").replace_strict(
            dict(enumerate(EVENT_TYPES)), return_dtype=pl.String
        ),
        event_at=pl.lit(ctx.start) + pl.duration(milliseconds=pl.col("event_ms")),
        customer_id=pl.when("identified").then("customer_id"),
        product_id=pl.when(
            (pl.col("kind") == ADD_TO_CART) | ((pl.col("kind") == PAGE_VIEW) & "product_page")
        ).then(pl.format("PRD{}", pl.col("product_n").cast(pl.String).str.zfill(5))),
        query=pl.when(pl.col("kind") == SEARCH).then("term"),
    ).with_columns(page=_page())
    # The payload's `event_at` is the device's clock: off under the `clock_skew` fault.
    skew = pl.lit(pl.Series(_clock_skew(ctx, devices.height, session_device[session])))
    reported_at = (pl.col("event_at") - pl.duration(milliseconds=skew)).dt.strftime(ISO_FORMAT)
    fields = [reported_at.alias(f) if f == "event_at" else pl.col(f) for f in EVENT_FIELDS]
    if DRIFT_FIELD in events.columns:
        fields.append(pl.col(DRIFT_FIELD))
    return events.select(
        "event_id",
        "person_id",
        "device_id",
        "event_at",
        emit_ms="event_ms",
        payload=pl.struct(fields).struct.json_encode(),
    )


def _page() -> pl.Expr:
    return (
        pl.when(pl.col("product_id").is_not_null())
        .then(pl.format("/products/{}", "product_id"))
        .when(pl.col("kind") == PAGE_VIEW)
        .then("other_page")
        .when(pl.col("kind") == SEARCH)
        .then(pl.lit("/search"))
        .when(pl.col("kind") == CHECKOUT)
        .then(pl.lit("/checkout"))
        .otherwise(pl.lit("/login"))
    )


def _clock_skew(ctx: DayContext, devices: int, device: np.ndarray) -> np.ndarray:
    """Milliseconds each event's reported time is behind, by the index of its `device`:
    some devices' clocks are off under the `clock_skew` fault, none otherwise."""
    if not ctx.fault("clock_skew"):
        return np.zeros(len(device), dtype=np.int64)
    rng = ctx.rng("clickstream.clock_skew")
    skewed = rng.random(devices) < CLOCK_SKEW_DEVICE_SHARE
    return np.where(skewed[device], CLOCK_SKEW_MS, 0).astype(np.int64)


def stream_batch(
    ctx: DayContext, fresh: pl.DataFrame, pending: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What goes on the stream today, in put order, and what is held back until tomorrow.

    Args:
        fresh: today's events (`day_events`).
        pending: the events held back yesterday, put on the stream today.

    Returns:
        Today's records in put order (duplicates included) and the events held back.
    """
    rng = ctx.rng("clickstream.delivery")
    rates = ctx.settings.simulator
    n = fresh.height
    late = rng.random(n) < rates.late_event_rate
    delayed = rng.random(n) < rates.out_of_order_rate
    delay = rng.exponential(OUT_OF_ORDER_MEAN_DELAY_MS, n).astype(np.int64)
    fresh = fresh.with_columns(
        emit_ms=pl.col("emit_ms") + pl.lit(pl.Series(np.where(delayed, delay, 0)))
    )
    held = fresh.filter(pl.lit(pl.Series(late)))
    # Yesterday's stragglers arrive any time today, once their device is back online.
    arriving = pending.with_columns(
        emit_ms=pl.lit(pl.Series(rng.integers(0, DAY_MS, pending.height), dtype=pl.Int64))
    )
    distinct = pl.concat([arriving, fresh.filter(pl.lit(pl.Series(~late)))])
    copies = distinct.filter(
        pl.lit(pl.Series(rng.random(distinct.height) < rates.duplicate_event_rate))
    )
    copies = copies.with_columns(
        emit_ms=pl.col("emit_ms")
        + pl.lit(
            pl.Series(rng.exponential(DUPLICATE_MEAN_DELAY_MS, copies.height).astype(np.int64))
        )
    )
    batch = pl.concat([distinct, copies]).sort("emit_ms", "event_id", maintain_order=True)
    return batch, held


def put_once(stream: Stream, batch: pl.DataFrame, folder: Path, day: int) -> None:
    """Put `batch` on the stream in chunks, recording progress in a ledger in `folder`, so
    that emitting a day again after a crash puts only what the crashed run had not (only a
    chunk in flight during the crash can land twice)."""
    ledger = folder / f"put-day={day:04d}.txt"
    done = int(ledger.read_text()) if ledger.exists() else 0
    keys = batch["device_id"].to_list()
    payloads = [p.encode() for p in batch["payload"].to_list()]
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(done, len(keys), PUT_CHUNK):
        stop = min(start + PUT_CHUNK, len(keys))
        stream.put_records(list(zip(keys[start:stop], payloads[start:stop], strict=True)))
        partial = ledger.with_suffix(".partial")
        partial.write_text(str(stop))
        partial.replace(ledger)
    for old in folder.glob("put-day=*.txt"):
        if old.name < f"put-day={day - 1:04d}.txt":
            old.unlink()


def uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` random (version 4) UUIDs drawn from `rng`, so the same seed gives the same ids."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = pl.Series(np.frombuffer(raw.tobytes().hex().encode(), dtype="S32").astype("U32"))
    parts = [hexed.str.slice(a, b - a) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    return pl.select(pl.concat_str(*[pl.lit(p) for p in parts], separator="-")).to_series()


def _popularity(n: int) -> np.ndarray:
    weights = 1 / np.arange(1, n + 1) ** 0.9
    return weights / weights.sum()
