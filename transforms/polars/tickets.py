"""Staging transform for the support tickets: landed JSON lines to each ticket once, typed."""

import polars as pl

from catalog.tables import staging
from transforms.polars import normalise
from transforms.polars.vendor_files import arrival_order, vendor_id, with_file_columns

STAGED_COLUMNS = staging.SUPPORT_TICKETS.column_names
TICKET_FILE = dict.fromkeys(
    ("ticket_id", "created_at", "channel", "subject", "body", "customer_email"), pl.String
)


def first_arrivals(raw: pl.LazyFrame) -> pl.LazyFrame:
    """One row per ticket: the first to arrive (by capture time, landing key, row in file),
    so a help desk's re-export of a ticket changes nothing."""
    return (
        raw.with_columns(vendor_id("ticket_id").alias("ticket_id"))
        .filter(pl.col("ticket_id").is_not_null())
        .sort(arrival_order(), maintain_order=True)
        .unique("ticket_id", keep="first", maintain_order=True)
    )


def stage_support_tickets(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """The tickets in `raw` not staged before (`prior`), each once, its creation time read
    as UTC and its email normalised. Returns only the new tickets, in creation order."""
    return (
        with_file_columns(raw, TICKET_FILE)
        .pipe(first_arrivals)
        .join(prior.select("ticket_id"), on="ticket_id", how="anti")
        .with_columns(
            normalise.timestamp_utc("created_at"),
            normalise.email("customer_email"),
            source_file="_source_file",
            ingested_at="_ingested_at",
        )
        .select(STAGED_COLUMNS)
        .sort("created_at", "ticket_id", nulls_last=True)
    )
