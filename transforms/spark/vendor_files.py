"""Staging transforms for the vendor file drops, the twins of
transforms/polars/vendor_files.py: rows as landed (text, the file's own column names) to the
newest record of each vendor id, typed and normalised.

A vendor's rows arrive in files; a later file, and a later row in the same file, restates
the record. Each function converts the new raw rows to the staging table's shape, keeps the
newest version of each id among them, and lets it replace the one in `prior`: every prior
row is older than every new one, so staging file by file equals staging them all at once.
"""

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as sf

from catalog.tables import staging
from transforms.polars import vendor_files as layouts
from transforms.spark import normalise
from transforms.spark.normalise import col

POSITION = "_source_position"
_NEWEST = "_newest"

# The columns each vendor's files carry, as raw holds them (text, but for the Parquet feed):
# the Polars module's layouts, in Spark types.
_SPARK_TYPES = {"String": "string", "Float64": "double", "Boolean": "boolean"}


def _spark_types(layout: Mapping[str, object]) -> dict[str, str]:
    return {name: _SPARK_TYPES[str(dtype)] for name, dtype in layout.items()}


LOYALTY_FILE = _spark_types(layouts.LOYALTY_FILE)
MARKETING_FILE = _spark_types(layouts.MARKETING_FILE)
LEGACY_FILE = _spark_types(layouts.LEGACY_FILE)
PRODUCT_FILE = _spark_types(layouts.PRODUCT_FILE)


def with_file_columns(raw: DataFrame, columns: Mapping[str, str]) -> DataFrame:
    """`raw` with each of `columns` (name: Spark type): one that no landed file has carried
    yet is all null."""
    present = set(raw.columns)
    missing = {c: sf.lit(None).cast(t) for c, t in columns.items() if c not in present}
    return raw.withColumns(missing)


def arrival_order() -> list[Column]:
    """Sort keys putting file rows in arrival order: capture time, landing key, row in file.

    `_source_position` is the row number as text, so it compares by length, then as text
    (`10` after `9`), whatever its size.
    """
    position = sf.col(POSITION)
    return [
        sf.col("_ingested_at"),
        sf.col("_source_file"),
        sf.length(position).alias("_position_length"),
        position,
    ]


def vendor_id(column: str) -> Column:
    """A vendor's id, trimmed (leading zeros kept); blank becomes null."""
    cleaned = normalise.trimmed(column)
    return sf.when(sf.length(cleaned) > 0, cleaned)


def lineage() -> list[Column]:
    """The staging lineage columns from a raw row's ingestion columns (and its position,
    kept for ordering until `newest_state`)."""
    return [
        sf.col("_source_file").alias("source_file"),
        sf.col("_ingested_at").alias("ingested_at"),
        sf.col(POSITION),
    ]


def newest_state(prior: DataFrame, versions: DataFrame, key: str, columns: list[str]) -> DataFrame:
    """`prior` with each `key` found in `versions` replaced by its newest version.

    Args:
        prior: the staging table's rows, each older than every version.
        versions: new rows in the staging table's shape, with `_source_position`.
        key: the vendor id; versions without one are dropped (the contract holds them).
        columns: the staging table's columns, in order.

    Versions tied on arrival are ordered by their other columns, in column order: Spark
    keeps no input order to break ties with.
    """
    position = sf.col(POSITION)
    order = [
        sf.col("ingested_at"),
        sf.col("source_file"),
        sf.length(position).alias("_position_length"),
        position,
    ]
    rest = [c for c in columns if c not in (key, "ingested_at", "source_file")]
    # The newest version is the greatest struct: structs compare field by field, nulls first.
    newest = (
        versions.filter(sf.col(key).isNotNull())
        .groupBy(key)
        .agg(sf.max(sf.struct(*order, *rest)).alias(_NEWEST))
        .select(*(sf.col(key) if c == key else sf.col(_NEWEST)[c].alias(c) for c in columns))
    )
    kept = prior.select(columns).join(newest.select(key), on=key, how="left_anti")
    return kept.unionByName(newest).orderBy(key)


def stage_loyalty_members(prior: DataFrame, raw: DataFrame) -> DataFrame:
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
        sf.col("tier"),
        sf.col("status"),
        *lineage(),
    )
    table = staging.VENDOR_LOYALTY_MEMBERS
    return newest_state(prior, versions, "member_id", table.column_names)


def stage_marketing_contacts(prior: DataFrame, raw: DataFrame) -> DataFrame:
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
            sf.coalesce(normalise.email("E-mail Address"), normalise.email("Email")).alias("email"),
            normalise.phone_e164("Phone").alias("phone"),
            normalise.boolean_any("Opt In").alias("is_opted_in"),
            normalise.name("Lead Source").alias("lead_source"),
            normalise.date_any("Date Added").alias("added_date"),
            *lineage(),
        )
        .withColumns(
            {
                "first_name": normalise.proper_name("first_name"),
                "last_name": normalise.proper_name("last_name"),
            }
        )
    )
    table = staging.VENDOR_MARKETING_LIST
    return newest_state(prior, versions, "contact_id", table.column_names)


def stage_legacy_customers(prior: DataFrame, raw: DataFrame) -> DataFrame:
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
        .withColumns(
            {
                "first_name": normalise.proper_name("first_name"),
                "last_name": normalise.proper_name("last_name"),
            }
        )
    )
    table = staging.VENDOR_LEGACY_CUSTOMERS
    return newest_state(prior, versions, "legacy_id", table.column_names)


def stage_vendor_products(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """Each SKU's newest row in the product feed (the Parquet keeps its types)."""
    versions = with_file_columns(raw, PRODUCT_FILE).select(
        vendor_id("sku").alias("sku"),
        normalise.name("name"),
        normalise.name("category"),
        col("price").cast("double").alias("price"),
        col("in_stock").cast("boolean").alias("is_in_stock"),
        *lineage(),
    )
    table = staging.VENDOR_PRODUCT_FEED
    return newest_state(prior, versions, "sku", table.column_names)


def _full_name(column: str) -> Column:
    cleaned = normalise.name(column)
    return sf.when(sf.length(cleaned) > 0, cleaned).alias("full_name")
