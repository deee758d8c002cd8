"""Staging transform for the clickstream: raw records to each event once, in event time."""

import polars as pl

from catalog.tables import staging

STAGED_COLUMNS = staging.CLICKSTREAM_EVENTS.column_names


def _sequence_order() -> list[pl.Expr]:
    """Sort keys putting a shard's records in put order.

    `_source_position` is `shard:sequence`; sequence numbers are digit strings of any length
    (Kinesis's exceed 64 bits), so they compare by length, then as text.
    """
    sequence = pl.col("_source_position").str.extract(r":(\d+)$")
    return [sequence.str.len_chars(), sequence]


def first_arrivals(raw: pl.LazyFrame) -> pl.LazyFrame:
    """One record per `event_id`: the first to arrive (a producer's retry is dropped).

    Records without an `event_id` never get here: the contract quarantines them.
    """
    return raw.sort(["_ingested_at", "arrived_at", *_sequence_order()], maintain_order=True).unique(
        "event_id", keep="first", maintain_order=True
    )


def stage_clickstream_events(prior: pl.LazyFrame, raw: pl.LazyFrame) -> pl.LazyFrame:
    """The events in `raw` not staged before (`prior`), once each, with late arrivals flagged.

    An event is late when it happened before the event-time watermark of its arrival: the
    newest `event_at` of every earlier ingestion batch (those `prior` holds included). Events
    shuffled within one batch are out of order, not late. Event time and capture time are
    compared only through the data, never with the wall clock, so the rule holds for
    replayed and simulated streams. Returns only the new events, in event-time order.
    """
    staged_watermark = prior.select(pl.col("event_at").max().alias("staged"))
    batches = (
        raw.group_by("_ingested_at")
        .agg(pl.col("event_at").max().alias("newest"))
        .sort("_ingested_at")
        .with_columns(watermark=pl.col("newest").cum_max().shift(1))
        .join(staged_watermark, how="cross")
        .select("_ingested_at", watermark=pl.max_horizontal("watermark", "staged"))
    )
    return (
        raw.pipe(first_arrivals)
        .join(prior.select("event_id"), on="event_id", how="anti")
        .join(batches, on="_ingested_at", how="left")
        .with_columns(is_late=(pl.col("event_at") < pl.col("watermark")).fill_null(False))
        .rename({"_ingested_at": "ingested_at"})
        .select(STAGED_COLUMNS)
        .sort("event_at", "event_id", nulls_last=True)
    )
