"""Staging transforms for the vendor file drops: rows as landed (text, the file's own column
names) to the newest record of each vendor id, typed and normalised.

A vendor's rows arrive in files; a later file, and a later row in the same file, restates
the record. Each function converts the new raw rows to the staging table's shape, keeps the
newest version of each id among them, and lets it replace the one in `prior`: every prior
row is older than every new one, so staging file by file equals staging them all at once.
"""

from collections.abc import Mapping

import polars as pl

from catalog.tables import staging
from transforms.polars import normalise

POSITION = "_source_position"

# The columns each vendor's files carry, as raw holds them (text, but for the Parquet feed).
LOYALTY_FILE = dict.fromkeys(
    (
        "memberId",
        "firstName",
        "lastName",
        "email",
        "phone",
        "joinDate",
        "points",  # JSON numbers as text; once "1,234" from the partner's new export tool
        "tier",
        "status",
    ),
    pl.String,
)
# The agency renamed "E-mail Address" to "Email" once; both are read.
MARKETING_FILE = dict.fromkeys(
    (
        "Contact ID",
        "Full Name",
        "E-mail Address",
        "Email",
        "Phone",
        "Opt In",
        "Lead Source",
        "Date Added",
    ),
    pl.String,
)
LEGACY_FILE = dict.fromkeys(("id", "name", "email", "phone", "since"), pl.String)
PRODUCT_FILE: dict[str, pl.DataType] = {
    "sku": pl.String(),
    "name": pl.String(),
    "category": pl.String(),
    "price": pl.Float64(),
    "in_stock": pl.Boolean(),
}


def with_file_columns(
    raw: pl.LazyFrame, columns: Mapping[str, pl.DataType | type[pl.DataType]]
) -> pl.LazyFrame:
    """`raw` with each of `columns`: one that no landed file has carried yet is all null."""
    present = set(raw.collect_schema().names())
    return raw.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in columns.items() if name not in present
    )


def arrival_order() -> list[pl.Expr]:
    """Sort keys putting file rows in arrival order: capture time, landing key, row in file.

    `_source_position` is the row number as text, so it compares by length, then as text
    (`10` after `9`), whatever its size.
    """
    position = pl.col(POSITION)
    return [pl.col("_ingested_at"), pl.col("_source_file"), position.str.len_chars(), position]


def vendor_id(column: str) -> pl.Expr:
    """A vendor's id, trimmed (leading zeros kept); blank becomes null."""
    cleaned = normalise.trimmed(column)
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


def lineage() -> list[pl.Expr]:
    """The staging lineage columns from a raw row's ingestion columns (and its position,
    kept for ordering until `newest_state`)."""
    return [
        pl.col("_source_file").alias("source_file"),
        pl.col("_ingested_at").alias("ingested_at"),
        pl.col(POSITION),
    ]


def newest_state(
    prior: pl.LazyFrame, versions: pl.LazyFrame, key: str, columns: list[str]
) -> pl.LazyFrame:
    """`prior` with each `key` found in `versions` replaced by its newest version.

    Args:
        prior: the staging table's rows, each older than every version.
        versions: new rows in the staging table's shape, with `_source_position`.
        key: the vendor id; versions without one are dropped (the contract holds them).
        columns: the staging table's columns, in order.
    """
    newest = (
        versions.filter(pl.col(key).is_not_null())
        .sort(
            [key, "ingested_at", "source_file", pl.col(POSITION).str.len_chars(), POSITION],
            maintain_order=True,
        )
        .unique(key, keep="last", maintain_order=True)
        .select(columns)
    )
    kept = prior.select(columns).join(newest.select(key), on=key, how="anti")
    return pl.concat([kept, newest], how="vertical_relaxed").sort(key)


def stage_loyalty_members(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Each loyalty member's newest record: names re-cased, contacts normalised, the
    partner's MM/DD/YYYY join date and (sometimes comma-grouped) points typed."""
    versions = with_file_columns(raw, LOYALTY_FILE).select(
        vendor_id("memberId").alias("member_id"),
        normalise.proper_name("firstName").alias("first_name"),
        normalise.proper_name("lastName").alias("last_name"),
        normalise.email("email"),
        normalise.phone_e164("phone"),
        normalise.date_any("joinDate").alias("join_date"),
        normalise.whole_number("points"),
        pl.col("tier"),
        pl.col("status"),
        *lineage(),
    )
    table = staging.VENDOR_LOYALTY_MEMBERS
    return newest_state(prior, versions, "member_id", table.column_names)


def stage_marketing_contacts(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Each marketing contact's newest row: `Last, First` or `First Last` names split,
    contacts normalised (from either email column), Yes/No opt-in and date typed."""
    first_name, last_name = normalise.split_last_first("Full Name")
    versions = (
        with_file_columns(raw, MARKETING_FILE)
        .select(
            vendor_id("Contact ID").alias("contact_id"),
            _full_name("Full Name"),
            first_name,
            last_name,
            pl.coalesce(normalise.email("E-mail Address"), normalise.email("Email")).alias("email"),
            normalise.phone_e164("Phone").alias("phone"),
            normalise.boolean_any("Opt In").alias("is_opted_in"),
            normalise.name("Lead Source").alias("lead_source"),
            normalise.date_any("Date Added").alias("added_date"),
            *lineage(),
        )
        .with_columns(normalise.proper_name("first_name"), normalise.proper_name("last_name"))
    )
    table = staging.VENDOR_MARKETING_LIST
    return newest_state(prior, versions, "contact_id", table.column_names)


def stage_legacy_customers(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Each legacy customer's newest export row: `LAST, FIRST` names split and re-cased,
    contacts normalised, the DD.MM.YYYY `since` date typed."""
    first_name, last_name = normalise.split_last_first("name")
    versions = (
        with_file_columns(raw, LEGACY_FILE)
        .select(
            vendor_id("id").alias("legacy_id"),
            _full_name("name"),
            first_name,
            last_name,
            normalise.email("email"),
            normalise.phone_e164("phone"),
            normalise.date_any("since").alias("customer_since_date"),
            *lineage(),
        )
        .with_columns(normalise.proper_name("first_name"), normalise.proper_name("last_name"))
    )
    table = staging.VENDOR_LEGACY_CUSTOMERS
    return newest_state(prior, versions, "legacy_id", table.column_names)


def stage_vendor_products(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Each SKU's newest row in the product feed (the Parquet keeps its types)."""
    versions = with_file_columns(raw, PRODUCT_FILE).select(
        vendor_id("sku").alias("sku"),
        normalise.name("name"),
        normalise.name("category"),
        pl.col("price").cast(pl.Float64),
        pl.col("in_stock").cast(pl.Boolean).alias("is_in_stock"),
        *lineage(),
    )
    table = staging.VENDOR_PRODUCT_FEED
    return newest_state(prior, versions, "sku", table.column_names)


def _full_name(column: str) -> pl.Expr:
    cleaned = normalise.name(column)
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned).alias("full_name")
