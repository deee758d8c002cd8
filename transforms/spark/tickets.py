"""Staging transform for the support tickets, the twin of transforms/polars/tickets.py:
landed JSON lines to each ticket once, typed."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as sf

from catalog.tables import staging
from transforms.polars import tickets as layouts
from transforms.spark import normalise
from transforms.spark.vendor_files import arrival_order, vendor_id, with_file_columns

STAGED_COLUMNS = staging.SUPPORT_TICKETS.column_names
TICKET_FILE = dict.fromkeys(layouts.TICKET_FILE, "string")
_FIRST = "_first"


def first_arrivals(raw: DataFrame) -> DataFrame:
    """One row per ticket: the first to arrive (by capture time, landing key, row in file),
    so a help desk's re-export of a ticket changes nothing.

    Rows tied on arrival are ordered by their other columns, in column order: Spark keeps
    no input order to break ties with.
    """
    order = arrival_order()
    arrival = ("ticket_id", "_ingested_at", "_source_file", "_source_position")
    rest = [c for c in raw.columns if c not in arrival]
    # The first arrival is the least struct: structs compare field by field, nulls first.
    return (
        raw.withColumn("ticket_id", vendor_id("ticket_id"))
        .filter(sf.col("ticket_id").isNotNull())
        .groupBy("ticket_id")
        .agg(sf.min(sf.struct(*order, *rest)).alias(_FIRST))
        .select(
            *(sf.col(c) if c == "ticket_id" else sf.col(_FIRST)[c].alias(c) for c in raw.columns)
        )
    )


def stage_support_tickets(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """The tickets in `raw` not staged before (`prior`), each once, its creation time read
    as UTC and its email normalised. Returns only the new tickets, in creation order."""
    return (
        with_file_columns(raw, TICKET_FILE)
        .transform(first_arrivals)
        .join(prior.select("ticket_id"), on="ticket_id", how="left_anti")
        .withColumns(
            {
                "created_at": normalise.timestamp_utc("created_at"),
                "customer_email": normalise.email("customer_email"),
                "source_file": sf.col("_source_file"),
                "ingested_at": sf.col("_ingested_at"),
            }
        )
        .select(STAGED_COLUMNS)
        .orderBy(sf.col("created_at").asc_nulls_last(), sf.col("ticket_id").asc_nulls_last())
    )
