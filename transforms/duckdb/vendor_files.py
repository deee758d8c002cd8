"""Staging transforms for the vendor file drops: rows as landed (text, the file's own column
names) to the newest record of each vendor id, typed and normalised.

A vendor's rows arrive in files; a later file, and a later row in the same file, restates
the record. Each function converts the new raw rows to the staging table's shape, keeps the
newest version of each id among them, and lets it replace the one in `prior`: every prior
row is older than every new one, so staging file by file equals staging them all at once.
"""

from collections.abc import Mapping

import duckdb
from duckdb import ColumnExpression, Expression, SQLExpression

from catalog.tables import staging
from transforms.duckdb import normalise
from transforms.duckdb.sql import INPUT_ORDER, NUMBERED, names, quoted
from transforms.polars import vendor_files as layouts

POSITION = "_source_position"

# The columns each vendor's files carry, as raw holds them (text, but for the Parquet feed):
# the Polars module's layouts, in SQL types.
_SQL_TYPES = {"String": "VARCHAR", "Float64": "DOUBLE", "Boolean": "BOOLEAN"}


def _sql_types(layout: Mapping[str, object]) -> dict[str, str]:
    return {name: _SQL_TYPES[str(dtype)] for name, dtype in layout.items()}


LOYALTY_FILE = _sql_types(layouts.LOYALTY_FILE)
MARKETING_FILE = _sql_types(layouts.MARKETING_FILE)
LEGACY_FILE = _sql_types(layouts.LEGACY_FILE)
PRODUCT_FILE = _sql_types(layouts.PRODUCT_FILE)


def with_file_columns(
    raw: duckdb.DuckDBPyRelation, columns: Mapping[str, str]
) -> duckdb.DuckDBPyRelation:
    """`raw` with each of `columns` (name: SQL type): one that no landed file has carried
    yet is all null."""
    present = {c.lower() for c in raw.columns}
    missing = [f"NULL::{t} AS {quoted(c)}" for c, t in columns.items() if c.lower() not in present]
    return raw.project(", ".join(["*", *missing])) if missing else raw


def arrival_order() -> str:
    """SQL sort keys putting file rows in arrival order: capture time, landing key, row in
    file (nulls first, as Polars sorts).

    `_source_position` is the row number as text, so it compares by length, then as text
    (`10` after `9`), whatever its size.
    """
    keys = ["_ingested_at", "_source_file", f"length({POSITION})", POSITION]
    return ", ".join(f"{k} NULLS FIRST" for k in keys)


def vendor_id(column: str) -> Expression:
    """A vendor's id, trimmed (leading zeros kept); blank becomes null."""
    return SQLExpression(f"nullif({normalise.trimmed(column)}, '')").alias(column)


def lineage() -> list[Expression]:
    """The staging lineage columns from a raw row's ingestion columns (and its position,
    kept for ordering until `newest_state`)."""
    return [
        ColumnExpression("_source_file").alias("source_file"),
        ColumnExpression("_ingested_at").alias("ingested_at"),
        ColumnExpression(POSITION),
    ]


def newest_state(
    prior: duckdb.DuckDBPyRelation,
    versions: duckdb.DuckDBPyRelation,
    key: str,
    columns: list[str],
) -> duckdb.DuckDBPyRelation:
    """`prior` with each `key` found in `versions` replaced by its newest version.

    Args:
        prior: the staging table's rows, each older than every version.
        versions: new rows in the staging table's shape, with `_source_position`.
        key: the vendor id; versions without one are dropped (the contract holds them).
        columns: the staging table's columns, in order.
    """
    # Newest by capture, landing key and row; a full tie goes to the later row, as Polars'
    # stable sort has it.
    newest = (
        versions.filter(f"{quoted(key)} IS NOT NULL")
        .project(f"*, {NUMBERED}")
        .query(
            "versions",
            f"""
            SELECT {names(columns)} FROM versions
            QUALIFY row_number() OVER (
                PARTITION BY {quoted(key)}
                ORDER BY ingested_at DESC NULLS LAST, source_file DESC NULLS LAST,
                    length({POSITION}) DESC NULLS LAST, {POSITION} DESC NULLS LAST,
                    {INPUT_ORDER} DESC
            ) = 1
            """,
        )
    )
    kept = (
        prior.project(names(columns))
        .set_alias("prior")
        .join(newest.project(quoted(key)).set_alias("newest"), key, how="anti")
    )
    return kept.union(newest).order(f"{quoted(key)} NULLS FIRST")


def _versions(raw: duckdb.DuckDBPyRelation, *columns: Expression) -> duckdb.DuckDBPyRelation:
    return raw.select(*columns, *lineage())


def _recased(versions: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """`versions` with split first and last names re-cased when shouted."""
    recased = {c: normalise.proper_name(c) for c in ("first_name", "last_name")}
    return versions.select(*(recased.get(c, ColumnExpression(c)) for c in versions.columns))


def stage_loyalty_members(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Each loyalty member's newest record: names re-cased, contacts normalised, the
    partner's MM/DD/YYYY join date and (sometimes comma-grouped) points typed."""
    versions = _versions(
        with_file_columns(raw, LOYALTY_FILE),
        vendor_id("memberId").alias("member_id"),
        normalise.proper_name("firstName").alias("first_name"),
        normalise.proper_name("lastName").alias("last_name"),
        normalise.email("email"),
        normalise.phone_e164("phone"),
        normalise.date_any("joinDate").alias("join_date"),
        normalise.whole_number("points"),
        ColumnExpression("tier"),
        ColumnExpression("status"),
    )
    table = staging.VENDOR_LOYALTY_MEMBERS
    return newest_state(prior, versions, "member_id", table.column_names)


def stage_marketing_contacts(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Each marketing contact's newest row: `Last, First` or `First Last` names split,
    contacts normalised (from either email column), Yes/No opt-in and date typed."""
    first_name, last_name = normalise.split_last_first("Full Name")
    versions = _versions(
        with_file_columns(raw, MARKETING_FILE),
        vendor_id("Contact ID").alias("contact_id"),
        _full_name("Full Name"),
        first_name,
        last_name,
        SQLExpression(
            f"coalesce({normalise.email('E-mail Address')}, {normalise.email('Email')})"
        ).alias("email"),
        normalise.phone_e164("Phone").alias("phone"),
        normalise.boolean_any("Opt In").alias("is_opted_in"),
        normalise.name("Lead Source").alias("lead_source"),
        normalise.date_any("Date Added").alias("added_date"),
    )
    table = staging.VENDOR_MARKETING_LIST
    return newest_state(prior, _recased(versions), "contact_id", table.column_names)


def stage_legacy_customers(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Each legacy customer's newest export row: `LAST, FIRST` names split and re-cased,
    contacts normalised, the DD.MM.YYYY `since` date typed."""
    first_name, last_name = normalise.split_last_first("name")
    versions = _versions(
        with_file_columns(raw, LEGACY_FILE),
        vendor_id("id").alias("legacy_id"),
        _full_name("name"),
        first_name,
        last_name,
        normalise.email("email"),
        normalise.phone_e164("phone"),
        normalise.date_any("since").alias("customer_since_date"),
    )
    table = staging.VENDOR_LEGACY_CUSTOMERS
    return newest_state(prior, _recased(versions), "legacy_id", table.column_names)


def stage_vendor_products(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Each SKU's newest row in the product feed (the Parquet keeps its types)."""
    versions = _versions(
        with_file_columns(raw, PRODUCT_FILE),
        vendor_id("sku").alias("sku"),
        normalise.name("name"),
        normalise.name("category"),
        SQLExpression("CAST(price AS DOUBLE)").alias("price"),
        SQLExpression("CAST(in_stock AS BOOLEAN)").alias("is_in_stock"),
    )
    table = staging.VENDOR_PRODUCT_FEED
    return newest_state(prior, versions, "sku", table.column_names)


def _full_name(column: str) -> Expression:
    return SQLExpression(f"nullif({normalise.name(column)}, '')").alias("full_name")
