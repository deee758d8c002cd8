"""`stage_clickstream_events` in Spark stages what Polars stages: each event once, late
arrivals flagged, from an empty or a prior state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pyarrow.compute as pc
import pytest

from catalog.tables import staging
from tests.transforms.frames import empty
from tests.transforms.polars.test_clickstream import RAW_SCHEMA, _at, _record
from tests.transforms.spark.twins import assert_same_rows, run_twins
from transforms.engines import function

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RECORDS = [
    # Out of order within one batch: not late.
    _record("E2", event_at=_at(1, 10, 5), arrived=_at(1, 10, 6), sequence=2, ingested=_at(1, 11)),
    _record("E1", event_at=_at(1, 10, 1), arrived=_at(1, 10, 7), sequence=3, ingested=_at(1, 11)),
    # A producer's retry read in a later batch, listed first.
    _record("E3", event_at=_at(1, 12), arrived=_at(1, 13, 2), sequence=90, page="/retry"),
    _record("E3", event_at=_at(1, 12), arrived=_at(1, 12, 1), sequence=8, page="/first"),
    # Retries in one batch, same arrival: put order decides, by number ("9" < "10").
    _record("E4", event_at=_at(1, 9), arrived=_at(1, 14), sequence=10, page="/retry"),
    _record("E4", event_at=_at(1, 9), arrived=_at(1, 14), sequence=9, page="/first"),
    # Held back offline: happened on day 1, arrived on day 2; then one in time.
    _record("E5", event_at=_at(2, 1), arrived=_at(2, 1, 1), sequence=20),
    _record("E6", event_at=_at(1, 12, 30), arrived=_at(2, 2), sequence=21),
    _record("E7", event_at=_at(2, 3), arrived=_at(2, 3, 1), sequence=22),
    # A retry of an event staged the day before, and an event older than everything staged.
    _record("E1", event_at=_at(1, 10, 1), arrived=_at(2, 4), sequence=23, page="/again"),
    _record("E8", event_at=_at(1, 8), arrived=_at(2, 5), sequence=24),
    # Retries at one arrival, one without a sequence number: it sorts first, as a null.
    _record("E9", event_at=_at(2, 6), arrived=_at(2, 6), sequence=25, page="/numbered"),
    _record("E9", event_at=_at(2, 6), arrived=_at(2, 6), sequence=26, page="/unnumbered"),
]
RECORDS[-4]["_source_position"] = "shard-1:100000000000000000000000000"  # beyond 64 bits
RECORDS[-3]["_source_position"] = None
RECORDS[-1]["_source_position"] = "shard-0"


@pytest.mark.parametrize("prior_until_day", [None, 2], ids=["empty prior", "prior of day 1"])
def test_stages_what_polars_stages(spark: SparkSession, prior_until_day: int | None) -> None:
    records = pl.LazyFrame(RECORDS, schema=RAW_SCHEMA)
    prior = empty(staging.CLICKSTREAM_EVENTS)
    raw = records
    if prior_until_day is not None:
        captured = pl.col("_ingested_at") < _at(prior_until_day)
        stage = function("polars", "clickstream", "stage_clickstream_events")
        prior = stage(prior, records.filter(captured))
        raw = records.filter(~captured)

    by_polars, by_spark = run_twins(spark, "clickstream", "stage_clickstream_events", prior, raw)

    assert by_spark.column_names == staging.CLICKSTREAM_EVENTS.column_names
    assert_same_rows(by_polars, by_spark, staging.CLICKSTREAM_EVENTS)
    # Event-time order, as Polars returns them.
    assert by_spark["event_id"].to_pylist() == by_polars["event_id"].to_pylist()
    assert by_spark.filter(by_spark["is_late"]).num_rows >= 1
    assert by_spark.filter(pc.field("event_id") == "E9")["page"].to_pylist() == ["/unnumbered"]
