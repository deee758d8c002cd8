"""Staging transform for the clickstream: raw records to each event once, in event time."""

import duckdb

from catalog.tables import staging
from transforms.duckdb.regex import re2_regex
from transforms.duckdb.sql import INPUT_ORDER, NUMBERED, literal, quoted

STAGED_COLUMNS = staging.CLICKSTREAM_EVENTS.column_names

# `_source_position` is `shard:sequence`; sequence numbers are digit strings of any length
# (Kinesis's exceed 64 bits), so they compare by length, then as text. A position without
# one has none (null, where DuckDB's `regexp_extract` gives an empty string).
_SEQUENCE_PATTERN = literal(re2_regex(r":(\d+)$"))
_SEQUENCE = f"nullif(regexp_extract(_source_position, {_SEQUENCE_PATTERN}, 1), '')"
_PUT_ORDER = f"length({_SEQUENCE}) NULLS FIRST, {_SEQUENCE} NULLS FIRST"
# The staged columns not copied from a raw one.
_STAGED = {
    "ingested_at": "_ingested_at",
    "is_late": "coalesce(event_at < watermark, false)",
}


def first_arrivals(raw: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """One record per `event_id`: the first to arrive (a producer's retry is dropped).

    Records without an `event_id` never get here: the contract quarantines them. A full
    tie goes to the earlier row, as Polars' stable sort has it.
    """
    return raw.project(f"*, {NUMBERED}").query(
        "raw",
        f"""
        SELECT * EXCLUDE ({INPUT_ORDER}) FROM raw
        QUALIFY row_number() OVER (
            PARTITION BY event_id
            ORDER BY _ingested_at NULLS FIRST, arrived_at NULLS FIRST, {_PUT_ORDER}, {INPUT_ORDER}
        ) = 1
        """,
    )


def stage_clickstream_events(
    prior: duckdb.DuckDBPyRelation, raw: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """The events in `raw` not staged before (`prior`), once each, with late arrivals flagged.

    An event is late when it happened before the event-time watermark of its arrival: the
    newest `event_at` of every earlier ingestion batch (those `prior` holds included). Events
    shuffled within one batch are out of order, not late. Event time and capture time are
    compared only through the data, never with the wall clock, so the rule holds for
    replayed and simulated streams. Returns only the new events, in event-time order.
    """
    staged_watermark = prior.aggregate("max(event_at) AS staged")
    # As Polars' `cum_max().shift(1)`: the newest of every earlier batch, but null after a
    # batch without any event time (a cumulative maximum is null where its input is).
    batches = (
        raw.aggregate("_ingested_at, max(event_at) AS newest", "_ingested_at")
        .cross(staged_watermark)
        .query(
            "batches",
            """
            SELECT _ingested_at, greatest(
                CASE WHEN lag(newest) OVER batch_order IS NOT NULL THEN max(newest) OVER (
                    batch_order ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                ) END,
                staged
            ) AS watermark
            FROM batches
            WINDOW batch_order AS (ORDER BY _ingested_at NULLS FIRST)
            """,
        )
    )
    return (
        first_arrivals(raw)
        .set_alias("arrival")
        .join(prior.project("event_id").set_alias("staged"), "event_id", how="anti")
        .join(batches.set_alias("batch"), "_ingested_at", how="left")
        .project(", ".join(f"{_STAGED.get(c, quoted(c))} AS {quoted(c)}" for c in STAGED_COLUMNS))
        .order("event_at NULLS LAST, event_id NULLS LAST")
    )
