"""Vendor file drops (S3 batch uploads in production): four feeds in the landing zone.

Each vendor sees a part of the people, keys them with its own ids and writes them its own
way, typos included:

- a loyalty partner's JSON, daily (`loyalty/loyalty_members_YYYYMMDD.json`): every member
  on day 0, then the day's joins and changes (a few people enrolled twice);
- a marketing list CSV, on day 0 and every Monday (`marketing/Marketing_List_YYYY-MM-DD.csv`):
  the whole list, Excel style (UTF-8 BOM, CRLF, "Last, First" names quoted);
- a legacy system's XML export, on day 0 and every 7 days (`legacy/export_NNNN.xml`): a
  frozen system, so its contact details go stale as people move on;
- a product feed in Parquet, daily (`products/product_feed_YYYYMMDD.parquet`).

Manifest: one `Emitted` per file, `dataset` being the landing key and `checksum` the
landing zone's `rows_checksum` of the rows as written (columns named as in the file; for
the XML, `id`, `name`, `email`, `phone`, `since`).

Faults, on `simulator.fault_day` only:
- `malformed_files`: besides its regular drop (if due), each text vendor drops a broken
  re-send of a sample of its records (`..._resend.json` cut off mid-file,
  `..._corrected.csv` with an unterminated quote, `export_NNNN_retry.xml` with a raw `&`
  and no closing root). Its dataset is the key plus `MALFORMED_SUFFIX`; its rows and
  checksum are those it was meant to carry.
- `schema_drift`: loyalty `points` become text ("1,234"), the marketing list's
  "E-mail Address" is renamed "Email", the legacy export gains a `<segment>` element and
  the product feed a `brand` column (each in the files due that day).
- `null_keys` / `duplicate_keys`: about 1% of the rows of each file due lose their vendor
  id, or go out twice (a loyalty or product copy differing in points or price).

Truth: `(source, source_record_id, person_id)` with source `loyalty`, `marketing` or
`legacy`, once per vendor id, on the day a well-formed file first carries that id (so a
record whose only row lost its id, or that only a broken file carried, waits for a later
file). The product feed has no people in it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import polars as pl

from simulator import noise
from simulator.context import TRUTH_SCHEMA, DayContext, Emission, Emitted
from simulator.emitters.landing import MALFORMED_SUFFIX, open_landing, rows_checksum
from simulator.sources import orders

NAME = "vendor_files"
LOYALTY, MARKETING, LEGACY, PRODUCTS = "loyalty", "marketing", "legacy", "products"
ANNOUNCED = f"{NAME}/announced"  # the vendor ids truth has already been written for

LOYALTY_SHARE = 0.18  # of people who are members on day 0
LOYALTY_TWICE_SHARE = 0.02  # of members who enrolled a second time
LOYALTY_DAILY_JOIN_RATE = 0.001  # of people not yet members
LOYALTY_DAILY_ACTIVITY_RATE = 0.03  # of active members who earn or redeem points
MEMBER_BASE = 40_000_000  # member ids are SP40000001, SP40000002, ...
GOLD_POINTS, SILVER_POINTS = 5_000, 1_000  # tiers; below silver is "Blue"
MARKETING_SHARE = 0.15
MARKETING_WEEKLY_ADD_RATE = 0.004  # of people not on the list
MARKETING_WEEKLY_OPT_CHANGE_RATE = 0.01
MARKETING_COLUMNS = {
    "contact_id": "Contact ID",
    "full_name": "Full Name",
    "email": "E-mail Address",
    "phone": "Phone",
    "opt_in": "Opt In",
    "lead_source": "Lead Source",
    "date_added": "Date Added",
}
LEAD_SOURCES = ("Website", "Webinar", "Trade Show, Chicago", "Trade Show, Austin", "Partner")
LEGACY_SHARE = 0.25
LEGACY_EXPORT_EVERY_DAYS = 7
LEGACY_FIELDS = ("id", "name", "email", "phone", "since")
PRODUCT_IN_STOCK_SHARE = 0.93
PRODUCT_BRAND = "Acme"  # the column a drifted feed adds

FAULT_ROW_SHARE = 0.01  # of a file's rows hit by `null_keys` or `duplicate_keys`
MALFORMED_ROW_SHARE = 0.02  # of a vendor's records in its broken re-send


@dataclass(frozen=True)
class Drop:
    """One file for the landing zone: its rows (file columns, plus `person_id` when the
    rows have an identity), its bytes, and whether the vendor broke it."""

    key: str
    rows: pl.DataFrame
    data: bytes
    source: str
    id_column: str | None = None
    malformed: bool = False

    @property
    def file_rows(self) -> pl.DataFrame:
        return self.rows.drop("person_id", strict=False)


class VendorFilesSource:
    """The vendor file drops family: loyalty JSON, marketing CSV, legacy XML, product
    Parquet, all in the landing zone (`sources.landing`)."""

    name = NAME

    def emit(self, ctx: DayContext) -> Emission:
        drops = [*loyalty(ctx), *marketing(ctx), *legacy(ctx), *products(ctx)]
        landing = open_landing(ctx.settings)
        for drop in drops:
            landing.put(drop.key, drop.data)
        return Emission(
            datasets=[
                Emitted(
                    drop.key + (MALFORMED_SUFFIX if drop.malformed else ""),
                    drop.rows.height,
                    rows_checksum(drop.file_rows),
                )
                for drop in drops
            ],
            truth=_announce(ctx, drops),
        )


def _announce(ctx: DayContext, drops: list[Drop]) -> pl.DataFrame:
    """Truth for vendor ids that a well-formed file carries for the first time today."""
    carried = [
        d.rows.select(
            source=pl.lit(d.source), source_record_id=d.id_column, person_id="person_id"
        ).filter(pl.col("source_record_id").is_not_null())
        for d in drops
        if d.id_column and not d.malformed
    ]
    seen = ctx.load_state(ANNOUNCED)
    if seen is None:
        seen = pl.DataFrame(schema=TRUTH_SCHEMA)
    new = (
        pl.concat([pl.DataFrame(schema=TRUTH_SCHEMA), *carried])
        .unique(["source", "source_record_id"], keep="first", maintain_order=True)
        .join(seen, on=["source", "source_record_id"], how="anti", maintain_order="left")
        .sort("source", "source_record_id")
    )
    ctx.save_state(ANNOUNCED, pl.concat([seen, new]))
    return new


# --- Loyalty partner: daily JSON ------------------------------------------------------------


def loyalty(ctx: DayContext) -> list[Drop]:
    """The loyalty partner's drop: all members on day 0, then the day's joins and changes."""
    rng = ctx.rng("vendor_files.loyalty")
    state = ctx.load_state(f"{NAME}/{LOYALTY}")
    if state is None:
        state = _initial_members(ctx, rng)
        changed, kind = state, "full"
    else:
        state, changed = _member_changes(ctx, state, rng)
        kind = "delta"
    ctx.save_state(f"{NAME}/{LOYALTY}", state)

    faults = ctx.rng("vendor_files.loyalty.faults")
    stamp = ctx.date.strftime("%Y%m%d")
    rows = _loyalty_rows(changed)
    if ctx.fault("schema_drift"):
        # The partner's new export tool writes points as formatted text.
        rows = rows.with_columns(
            points=pl.Series([f"{p:,}" for p in rows["points"].to_list()], dtype=pl.String)
        )
    rows = _key_faults(ctx, rows, "memberId", faults, vary="points")
    drops = [
        Drop(
            f"loyalty/loyalty_members_{stamp}.json",
            rows,
            _loyalty_json(ctx, rows, kind),
            LOYALTY,
            "memberId",
        )
    ]
    if ctx.fault("malformed_files"):
        resend = _loyalty_rows(_sample(state, faults))
        whole = _loyalty_json(ctx, resend, "resend")
        drops.append(
            Drop(
                f"loyalty/loyalty_members_{stamp}_resend.json",
                resend,
                whole[: len(whole) * 3 // 5],  # the upload was cut off
                LOYALTY,
                "memberId",
                malformed=True,
            )
        )
    return drops


def _initial_members(ctx: DayContext, rng: np.random.Generator) -> pl.DataFrame:
    people = ctx.people.filter(pl.Series(rng.random(ctx.people.height) < LOYALTY_SHARE))
    twice = people.filter(pl.Series(rng.random(people.height) < LOYALTY_TWICE_SHARE))
    # A second card: enrolled again at another store, the email typed differently.
    twice = twice.with_columns(
        email=pl.Series(noise.typo(twice["email"].to_list(), rng, 0.7), dtype=pl.String)
    )
    joiners = pl.concat([people, twice]).sort("person_id", maintain_order=True)
    members = _as_members(ctx, joiners, rng, first_id=1, join_days_back=3 * 365)
    points = np.round(rng.lognormal(6.5, 1.2, members.height)).astype(np.int64)
    return members.with_columns(points=pl.Series(points))


def _member_changes(
    ctx: DayContext, state: pl.DataFrame, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The members after today, and the members who joined or changed today."""
    n = state.height

    def hit(event: str) -> pl.Expr:
        people = ctx.events.filter(pl.col("event") == event)["person_id"]
        return pl.col("person_id").is_in(people.implode())

    active = pl.col("status") == "active"
    truth = ctx.people.select("person_id", "email", "last_name")
    flagged = state.join(truth, on="person_id", suffix="_true", maintain_order="left").with_columns(
        new_email=hit("new_email") & active,
        renamed=hit("name_change") & active,
        churned=hit("churn") & active,
        busy=pl.lit(pl.Series(rng.random(n) < LOYALTY_DAILY_ACTIVITY_RATE)) & active,
        earned=pl.lit(pl.Series(np.round(rng.lognormal(4.5, 1.0, n)).astype(np.int64))),
        redeems=pl.lit(pl.Series(rng.random(n) < 0.2)),
    )
    changed = flagged.filter(
        pl.any_horizontal("new_email", "renamed", "churned", "busy")
    ).with_columns(
        email=pl.when("new_email").then("email_true").otherwise("email"),
        last_name=pl.when("renamed").then("last_name_true").otherwise("last_name"),
        status=pl.when("churned").then(pl.lit("cancelled")).otherwise("status"),
        points=pl.when(pl.col("busy") & pl.col("redeems"))
        .then((pl.col("points") - pl.col("earned") * 5).clip(lower_bound=0))
        .when("busy")
        .then(pl.col("points") + pl.col("earned"))
        .otherwise("points"),
    )
    prospects = ctx.people.filter(
        ~pl.col("person_id").is_in(state["person_id"].implode()) & ~pl.col("is_churned")
    )
    joiners = prospects.filter(pl.Series(rng.random(prospects.height) < LOYALTY_DAILY_JOIN_RATE))
    next_id = _last_number(state["member_id"], "SP") + 1 - MEMBER_BASE
    new = _as_members(ctx, joiners, rng, first_id=next_id, join_days_back=0).with_columns(
        points=pl.lit(100, dtype=pl.Int64)
    )
    changed = pl.concat([changed.select(state.columns), new])
    ids = changed["member_id"].implode()
    after = pl.concat([state.filter(~pl.col("member_id").is_in(ids)), changed])
    return after.sort("member_id"), changed.sort("member_id")


def _as_members(
    ctx: DayContext,
    people: pl.DataFrame,
    rng: np.random.Generator,
    *,
    first_id: int,
    join_days_back: int,
) -> pl.DataFrame:
    n = people.height
    rate = ctx.settings.simulator.typo_rate
    first = MEMBER_BASE + first_id
    phones = noise.phone_styles(people["phone"].to_list(), rng, styles=("{a}.{b}.{c}",))
    return people.select(
        member_id=pl.format("SP{}", pl.int_range(first, first + n, dtype=pl.Int64)),
        person_id="person_id",
        first_name=pl.Series(
            noise.typo(people["first_name"].to_list(), rng, rate), dtype=pl.String
        ),
        last_name=pl.Series(noise.typo(people["last_name"].to_list(), rng, rate), dtype=pl.String),
        email=pl.Series(
            noise.stray_case(noise.typo(people["email"].to_list(), rng, rate), rng, 0.03),
            dtype=pl.String,
        ),
        # Members may leave the phone out at the till.
        phone=pl.Series(
            [p if keep else None for p, keep in zip(phones, rng.random(n) < 0.9, strict=True)],
            dtype=pl.String,
        ),
        join_date=pl.lit(ctx.date)
        - pl.duration(days=pl.lit(pl.Series(rng.integers(0, join_days_back + 1, n)))),
        points=pl.lit(0, dtype=pl.Int64),
        status=pl.lit("active"),
    )


def _loyalty_rows(members: pl.DataFrame) -> pl.DataFrame:
    return members.select(
        "person_id",
        memberId="member_id",
        firstName="first_name",
        lastName="last_name",
        email="email",
        phone="phone",
        joinDate=pl.col("join_date").dt.strftime("%m/%d/%Y"),
        points="points",
        tier=pl.when(pl.col("points") >= GOLD_POINTS)
        .then(pl.lit("Gold"))
        .when(pl.col("points") >= SILVER_POINTS)
        .then(pl.lit("Silver"))
        .otherwise(pl.lit("Blue")),
        status="status",
    )


def _loyalty_json(ctx: DayContext, rows: pl.DataFrame, kind: str) -> bytes:
    members = rows.drop("person_id").to_dicts()
    document = {
        "partner": "StarPoints Rewards",
        "fileDate": ctx.date.isoformat(),
        "fileType": kind,
        "recordCount": len(members),
        "members": members,
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


# --- Marketing list: weekly CSV --------------------------------------------------------------


def marketing(ctx: DayContext) -> list[Drop]:
    """The marketing agency's list: all of it on day 0 and every Monday."""
    rng = ctx.rng("vendor_files.marketing")
    state = ctx.load_state(f"{NAME}/{MARKETING}")
    list_day = ctx.day == 0 or ctx.date.weekday() == 0
    if state is None:
        state = _initial_contacts(ctx, rng)
    elif list_day:
        state = _weekly_contacts(ctx, state, rng)
    ctx.save_state(f"{NAME}/{MARKETING}", state)

    faults = ctx.rng("vendor_files.marketing.faults")
    stamp = ctx.date.isoformat()
    drops = []
    if list_day:
        rows = _marketing_rows(state)
        if ctx.fault("schema_drift"):
            rows = rows.rename({MARKETING_COLUMNS["email"]: "Email"})
        rows = _key_faults(ctx, rows, MARKETING_COLUMNS["contact_id"], faults)
        drops.append(
            Drop(
                f"marketing/Marketing_List_{stamp}.csv",
                rows,
                _marketing_csv(rows),
                MARKETING,
                MARKETING_COLUMNS["contact_id"],
            )
        )
    if ctx.fault("malformed_files"):
        corrected = _marketing_rows(_sample(state, faults))
        drops.append(
            Drop(
                f"marketing/Marketing_List_{stamp}_corrected.csv",
                corrected,
                _marketing_csv(corrected, unterminated_row=corrected.height // 2),
                MARKETING,
                MARKETING_COLUMNS["contact_id"],
                malformed=True,
            )
        )
    return drops


def _initial_contacts(ctx: DayContext, rng: np.random.Generator) -> pl.DataFrame:
    # People who opted in are four times likelier to be on a marketing list.
    weight = np.where(ctx.people["marketing_opt_in"].to_numpy(), 1.6, 0.4)
    listed = ctx.people.filter(pl.Series(rng.random(ctx.people.height) < MARKETING_SHARE * weight))
    return _as_contacts(ctx, listed, rng, first_id=1, days_back=2 * 365)


def _weekly_contacts(
    ctx: DayContext, state: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """The list a week on: churned people dropped, opt-ins changed, new contacts added."""
    churned = ctx.people.filter("is_churned")["person_id"].implode()
    kept = state.filter(~pl.col("person_id").is_in(churned))
    flips = pl.Series(rng.random(kept.height) < MARKETING_WEEKLY_OPT_CHANGE_RATE)
    kept = kept.with_columns(opt_in=pl.col("opt_in") ^ flips)
    prospects = ctx.people.filter(
        ~pl.col("person_id").is_in(state["person_id"].implode()) & ~pl.col("is_churned")
    )
    added = prospects.filter(pl.Series(rng.random(prospects.height) < MARKETING_WEEKLY_ADD_RATE))
    next_id = _last_number(state["contact_id"], "MKT-") + 1
    new = _as_contacts(ctx, added, rng, first_id=next_id, days_back=6)
    return pl.concat([kept, new]).sort("contact_id")


def _as_contacts(
    ctx: DayContext,
    people: pl.DataFrame,
    rng: np.random.Generator,
    *,
    first_id: int,
    days_back: int,
) -> pl.DataFrame:
    n = people.height
    rate = ctx.settings.simulator.typo_rate
    first = noise.typo(people["first_name"].to_list(), rng, rate)
    last = noise.typo(people["last_name"].to_list(), rng, rate)
    # Typed off business cards and sign-up sheets: "Last, First" a third of the time.
    flipped = rng.random(n) < 0.35
    names = [
        f"{ln}, {fn}" if flip else f"{fn} {ln}"
        for fn, ln, flip in zip(first, last, flipped.tolist(), strict=True)
    ]
    # Sign-up sheets are typed at twice the usual typo rate.
    emails = noise.stray_case(noise.typo(people["email"].to_list(), rng, 2 * rate), rng, 0.05)
    phones = noise.phone_styles(people["phone"].to_list(), rng, styles=("({a}) {b}-{c}",))
    keep_phone = rng.random(n) < 0.8
    disagree = rng.random(n) < 0.05
    return people.select(
        contact_id=pl.format(
            "MKT-{}",
            pl.int_range(first_id, first_id + n, dtype=pl.Int64).cast(pl.String).str.zfill(6),
        ),
        person_id="person_id",
        full_name=pl.Series(names, dtype=pl.String),
        email=pl.Series(emails, dtype=pl.String),
        phone=pl.Series(
            [p if k else None for p, k in zip(phones, keep_phone.tolist(), strict=True)],
            dtype=pl.String,
        ),
        opt_in=pl.col("marketing_opt_in") ^ pl.lit(pl.Series(disagree)),
        lead_source=pl.lit(
            pl.Series(np.array(LEAD_SOURCES)[rng.integers(0, len(LEAD_SOURCES), n)])
        ),
        date_added=pl.lit(ctx.date)
        - pl.duration(days=pl.lit(pl.Series(rng.integers(0, days_back + 1, n)))),
    )


def _marketing_rows(contacts: pl.DataFrame) -> pl.DataFrame:
    as_written = contacts.with_columns(
        opt_in=pl.when("opt_in").then(pl.lit("Yes")).otherwise(pl.lit("No")),
        date_added=pl.col("date_added").dt.strftime("%Y-%m-%d"),
    )
    return as_written.select(
        "person_id", *[pl.col(c).alias(header) for c, header in MARKETING_COLUMNS.items()]
    )


def _marketing_csv(rows: pl.DataFrame, unterminated_row: int | None = None) -> bytes:
    """The list as Excel saves it: BOM, CRLF, fields quoted only when they need it.

    Args:
        unterminated_row: a row whose name field opens a quote and never closes it (the
            broken quoting of the `malformed_files` fault).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    file_rows = rows.drop("person_id")
    writer.writerow(file_rows.columns)
    name_at = file_rows.columns.index("Full Name")
    for i, row in enumerate(file_rows.iter_rows()):
        if i == unterminated_row:
            fields = ["" if v is None else str(v) for v in row]
            fields[name_at] = '"' + fields[name_at].replace('"', "")
            out.write(",".join(fields) + "\r\n")
        else:
            writer.writerow(row)
    return "\ufeff".encode() + out.getvalue().encode()


# --- Legacy system: XML export every 7 days -----------------------------------------------


def legacy(ctx: DayContext) -> list[Drop]:
    """The legacy system's export: its frozen customers, on day 0 and every 7 days."""
    rng = ctx.rng("vendor_files.legacy")
    state = ctx.load_state(f"{NAME}/{LEGACY}")
    if state is None:
        state = _legacy_customers(ctx, rng)
    ctx.save_state(f"{NAME}/{LEGACY}", state)

    faults = ctx.rng("vendor_files.legacy.faults")
    export = ctx.day // LEGACY_EXPORT_EVERY_DAYS + 1
    drops = []
    if ctx.day % LEGACY_EXPORT_EVERY_DAYS == 0:
        rows = _legacy_rows(state)
        if ctx.fault("schema_drift"):
            segments = np.array(["RETAIL", "TRADE", "STAFF"])[faults.integers(0, 3, rows.height)]
            rows = rows.with_columns(segment=pl.Series(segments))
        rows = _key_faults(ctx, rows, "id", faults)
        drops.append(
            Drop(f"legacy/export_{export:04d}.xml", rows, _legacy_xml(ctx, rows), LEGACY, "id")
        )
    if ctx.fault("malformed_files"):
        rows = _legacy_rows(_sample(state, faults))
        drops.append(
            Drop(
                f"legacy/export_{export:04d}_retry.xml",
                rows,
                _legacy_xml(ctx, rows, broken_row=rows.height // 2),
                LEGACY,
                "id",
                malformed=True,
            )
        )
    return drops


def _legacy_customers(ctx: DayContext, rng: np.random.Generator) -> pl.DataFrame:
    people = ctx.people.filter(pl.Series(rng.random(ctx.people.height) < LEGACY_SHARE))
    n = people.height
    rate = ctx.settings.simulator.typo_rate
    first = noise.typo(people["first_name"].to_list(), rng, rate)
    last = noise.typo(people["last_name"].to_list(), rng, rate)
    shout = rng.random(n) < 0.4  # older records were keyed in capitals
    names = [
        f"{ln}, {fn}".upper() if loud else f"{ln}, {fn}"
        for fn, ln, loud in zip(first, last, shout.tolist(), strict=True)
    ]
    # The legacy system knew the landline where there was one.
    phones = noise.phone_styles(
        people.select(pl.coalesce("home_phone", "phone").alias("known"))["known"].to_list(),
        rng,
        styles=("{a}-{b}-{c}", "1{a}{b}{c}"),
    )
    return people.select(
        legacy_id=pl.int_range(10_001, 10_001 + n, dtype=pl.Int64).cast(pl.String).str.zfill(7),
        person_id="person_id",
        name=pl.Series(names, dtype=pl.String),
        email=pl.Series(
            [e if k else None for e, k in zip(people["email"], rng.random(n) < 0.85, strict=True)],
            dtype=pl.String,
        ),
        phone=pl.Series(phones, dtype=pl.String),
        since=pl.lit(date(2005, 1, 1))
        + pl.duration(days=pl.lit(pl.Series(rng.integers(0, 15 * 365, n)))),
    )


def _legacy_rows(customers: pl.DataFrame) -> pl.DataFrame:
    return customers.select(
        "person_id",
        id="legacy_id",
        name="name",
        email="email",
        phone="phone",
        since=pl.col("since").dt.strftime("%d.%m.%Y"),
    )


def _legacy_xml(ctx: DayContext, rows: pl.DataFrame, broken_row: int | None = None) -> bytes:
    """The export as the legacy system writes it.

    Args:
        broken_row: a row whose name goes out with a raw `&`, in a file cut off before its
            closing tag (the invalid XML of the `malformed_files` fault).
    """
    extra = [c for c in rows.columns if c not in ("person_id", *LEGACY_FIELDS)]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<customers exported="{ctx.date.isoformat()}" count="{rows.height}">',
    ]
    for i, row in enumerate(rows.drop("person_id").iter_rows(named=True)):
        ident = "" if row["id"] is None else f" id={quoteattr(row['id'])}"
        name = f"{row['name']} & Co" if i == broken_row else escape(row["name"])
        contact = "".join(
            f" {field}={quoteattr(row[field])}"
            for field in ("email", "phone")
            if row[field] is not None
        )
        lines += [
            f"  <customer{ident}>",
            f"    <name>{name}</name>",
            f"    <contact{contact}/>",
            f"    <since>{row['since']}</since>",
            *[f"    <{c}>{escape(row[c])}</{c}>" for c in extra],
            "  </customer>",
        ]
    if broken_row is None:
        lines.append("</customers>")
    return ("\n".join(lines) + "\n").encode()


# --- Product feed: daily Parquet -----------------------------------------------------------


def products(ctx: DayContext) -> list[Drop]:
    """The product feed: the shop's whole catalog every day, as of the start of the day."""
    state = _catalog(ctx)
    ctx.save_state(f"{NAME}/{PRODUCTS}", state)

    rng = ctx.rng("vendor_files.products")
    faults = ctx.rng("vendor_files.products.faults")
    rows = state.select(
        "sku",
        "name",
        # The feed's own style: title-case categories, dollars as floats.
        category=pl.col("category").str.to_titlecase(),
        price=(pl.col("price") / 100).round(2),
        in_stock=pl.lit(pl.Series(rng.random(state.height) < PRODUCT_IN_STOCK_SHARE)),
    )
    if ctx.fault("schema_drift"):
        rows = rows.with_columns(brand=pl.lit(PRODUCT_BRAND))
    rows = _key_faults(ctx, rows, "sku", faults, vary="price")
    return [
        Drop(
            f"products/product_feed_{ctx.date.strftime('%Y%m%d')}.parquet",
            rows,
            _parquet(rows),
            PRODUCTS,
        )
    ]


def _catalog(ctx: DayContext) -> pl.DataFrame:
    """The orders family's product catalog (sku, name, category, price in cents) at the end
    of yesterday: on day 0 the catalog it starts from, on later days its saved state, or,
    if the orders family did not run, the feed's own copy from yesterday."""
    columns = ["sku", "name", "category", "price"]
    catalog: pl.DataFrame | None
    if ctx.day == 0:
        catalog = orders.initial_catalog(ctx, before=ctx.start)
    else:
        catalog = ctx.load_state(orders.CATALOG_STATE)
        if catalog is None:
            catalog = ctx.load_state(f"{NAME}/{PRODUCTS}")
    assert catalog is not None, f"day {ctx.day - 1} of {NAME} must be emitted first"
    return catalog.select(columns).sort("sku")


def _parquet(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out, statistics=True)
    return out.getvalue()


# --- Faults -------------------------------------------------------------------------------


def _key_faults(
    ctx: DayContext,
    rows: pl.DataFrame,
    key: str,
    rng: np.random.Generator,
    vary: str | None = None,
) -> pl.DataFrame:
    """Under `duplicate_keys`, some rows go out twice (the copy differing in `vary`); under
    `null_keys`, some rows lose their key."""
    n = rows.height
    if n and ctx.fault("duplicate_keys"):
        twice = rng.choice(n, max(1, round(n * FAULT_ROW_SHARE)), replace=False)
        order = np.sort(np.concatenate([np.arange(n), twice]))
        rows = rows[order]
        is_copy = pl.Series(np.concatenate([[False], order[1:] == order[:-1]]))
        if vary is not None:
            bump: Callable[[pl.Expr], pl.Expr] = (
                (lambda c: c + 1) if rows.schema[vary].is_numeric() else (lambda c: c + "0")
            )
            rows = rows.with_columns(
                pl.when(is_copy).then(bump(pl.col(vary))).otherwise(pl.col(vary)).alias(vary)
            )
    if n and ctx.fault("null_keys"):
        lost = np.zeros(rows.height, dtype=bool)
        lost[
            rng.choice(rows.height, max(1, round(rows.height * FAULT_ROW_SHARE)), replace=False)
        ] = True
        rows = rows.with_columns(
            pl.when(pl.Series(lost)).then(None).otherwise(pl.col(key)).alias(key)
        )
    return rows


def _last_number(ids: pl.Series, prefix: str) -> int:
    """The highest number among ids like `<prefix>00042` (0 if none)."""
    numbers = ids.str.strip_prefix(prefix).cast(pl.Int64)
    return int(numbers.max() or 0)  # type: ignore[arg-type]


def _sample(state: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """A share of a vendor's records: what its broken re-send was meant to carry."""
    size = min(state.height, max(10, round(state.height * MALFORMED_ROW_SHARE)))
    return state[np.sort(rng.choice(state.height, size, replace=False))]
