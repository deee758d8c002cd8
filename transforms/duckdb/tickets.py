"""Staging transform for the support tickets: landed JSON lines to each ticket once, typed."""

import duckdb
from duckdb import ColumnExpression

from catalog.tables import staging
from transforms.duckdb import normalise
from transforms.duckdb.sql import INPUT_ORDER, NUMBERED
from transforms.duckdb.vendor_files import arrival_order, vendor_id, with_file_columns
from transforms.polars.tickets import TICKET_FILE as _TICKET_LAYOUT

STAGED_COLUMNS = staging.SUPPORT_TICKETS.column_names
TICKET_FILE = dict.fromkeys(_TICKET_LAYOUT, "VARCHAR")


def first_arrivals(raw: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """One row per ticket: the first to arrive (by capture time, landing key, row in file),
    so a help desk's re-export of a ticket changes nothing. A full tie goes to the earlier
    row, as Polars' stable sort has it."""
    identified = raw.select(
        *(vendor_id(c) if c == "ticket_id" else ColumnExpression(c) for c in raw.columns)
    )
    return (
        identified.filter("ticket_id IS NOT NULL")
        .project(f"*, {NUMBERED}")
        .query(
            "raw",
            f"""
            SELECT * EXCLUDE ({INPUT_ORDER}) FROM raw
            QUALIFY row_number() OVER (
                PARTITION BY ticket_id ORDER BY {arrival_order()}, {INPUT_ORDER}
            ) = 1
            """,
        )
    )


def stage_support_tickets(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """The tickets in `raw` not staged before (`prior`), each once, its creation time read
    as UTC and its email normalised. Returns only the new tickets, in creation order."""
    cleaned = {
        "created_at": normalise.timestamp_utc("created_at"),
        "customer_email": normalise.email("customer_email"),
        "source_file": ColumnExpression("_source_file").alias("source_file"),
        "ingested_at": ColumnExpression("_ingested_at").alias("ingested_at"),
    }
    return (
        first_arrivals(with_file_columns(raw, TICKET_FILE))
        .set_alias("ticket")
        .join(prior.project("ticket_id").set_alias("staged"), "ticket_id", how="anti")
        .select(*(cleaned.get(c, ColumnExpression(c)) for c in STAGED_COLUMNS))
        .order("created_at NULLS LAST, ticket_id NULLS LAST")
    )
