"""Staging transform for the clickstream, the twin of transforms/polars/clickstream.py."""

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as sf

from catalog.tables import staging
from transforms.spark.regex import java_regex

STAGED_COLUMNS = staging.CLICKSTREAM_EVENTS.column_names
_SEQUENCE = java_regex(r":(\d+)$")
_FIRST = "_first"


def _sequence_order() -> list[Column]:
    """Sort keys putting a shard's records in put order.

    `_source_position` is `shard:sequence`; sequence numbers are digit strings of any length
    (Kinesis's exceed 64 bits), so they compare by length, then as text.
    """
    position = sf.col("_source_position")
    # Null without a sequence, as Polars' `extract` (Spark's gives an empty string).
    sequence = sf.when(position.rlike(_SEQUENCE), sf.regexp_extract(position, _SEQUENCE, 1))
    return [sf.length(sequence).alias("_sequence_length"), sequence.alias("_sequence")]


def first_arrivals(raw: DataFrame) -> DataFrame:
    """One record per `event_id`: the first to arrive (a producer's retry is dropped).

    Records without an `event_id` never get here: the contract quarantines them. Records
    tied on arrival are ordered by their other columns, in column order: Spark keeps no input
    order to break ties with.
    """
    arrival = ["_ingested_at", "arrived_at"]
    rest = [c for c in raw.columns if c not in ("event_id", *arrival)]
    # The first arrival is the least struct: structs compare field by field, nulls first.
    first = sf.min(sf.struct(*arrival, *_sequence_order(), *rest)).alias(_FIRST)
    return (
        raw.groupBy("event_id")
        .agg(first)
        .select(
            *(sf.col(c) if c == "event_id" else sf.col(_FIRST)[c].alias(c) for c in raw.columns)
        )
    )


def stage_clickstream_events(prior: DataFrame, raw: DataFrame) -> DataFrame:
    """The events in `raw` not staged before (`prior`), once each, with late arrivals flagged.

    An event is late when it happened before the event-time watermark of its arrival: the
    newest `event_at` of every earlier ingestion batch (those `prior` holds included). Events
    shuffled within one batch are out of order, not late. Event time and capture time are
    compared only through the data, never with the wall clock, so the rule holds for
    replayed and simulated streams. Returns only the new events, in event-time order.
    """
    staged_watermark = prior.agg(sf.max("event_at").alias("staged"))
    by_capture = Window.orderBy("_ingested_at")  # one row per batch: a single partition is fine
    # Polars' `cum_max` keeps a batch without any `event_at` null, and `shift(1)` hands
    # that null on as the next batch's watermark: mirrored.
    newest_so_far = sf.when(
        sf.col("newest").isNotNull(),
        sf.max("newest").over(by_capture.rowsBetween(Window.unboundedPreceding, 0)),
    )
    batches = (
        raw.groupBy("_ingested_at")
        .agg(sf.max("event_at").alias("newest"))
        .withColumn("newest_so_far", newest_so_far)
        .withColumn("watermark", sf.lag("newest_so_far", 1).over(by_capture))
        .crossJoin(staged_watermark)
        .select("_ingested_at", sf.greatest("watermark", "staged").alias("watermark"))
    )
    return (
        raw.transform(first_arrivals)
        .join(prior.select("event_id"), on="event_id", how="left_anti")
        .join(batches, on="_ingested_at", how="left")
        .withColumn("is_late", sf.coalesce(sf.col("event_at") < sf.col("watermark"), sf.lit(False)))
        .withColumnRenamed("_ingested_at", "ingested_at")
        .select(STAGED_COLUMNS)
        .orderBy(sf.col("event_at").asc_nulls_last(), sf.col("event_id").asc_nulls_last())
    )
