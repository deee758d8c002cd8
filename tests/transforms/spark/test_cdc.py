"""`latest_state` in Spark gives the Polars state: the newest version of each live key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from tests.transforms.polars.test_cdc import _history
from tests.transforms.spark.twins import assert_same_rows, run_twins, spark_arrow, to_spark
from transforms.engines import function

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# (key, value, updated hour, ingested hour, operation): every case of the Polars tests.
HISTORY = [
    ("a", "a-v2", 5, 6, "update"),
    ("b", "b-v1", 1, 2, "insert"),
    ("a", "a-v3", 9, 10, "update"),
    ("a", "a-v1", 1, 2, "insert"),
    ("a", "a-late", 7, 11, "update"),  # captured after a-v3, older in the source
    ("c", "c-v1", 1, 2, "insert"),
    ("c", "c-gone", 2, 3, "delete"),
    ("c", "c-back", 3, 4, "insert"),  # deleted, then created again
    ("d", "d-v1", 1, 2, "insert"),
    ("d", "d-gone", 3, 4, "delete"),
    ("e", "e-captured-second", 5, 9, "update"),
    ("e", "e-captured-first", 5, 7, "update"),
    ("f", "f-gone-first", 5, 7, "delete"),  # a delete of a key never seen
]


def test_the_state_equals_polars_for_every_order_and_from_any_prior(spark: SparkSession) -> None:
    history = _history(HISTORY).with_columns(
        # A delete carries no source timestamp.
        pl.when(pl.col("_cdc_operation") != "delete").then(pl.col("updated_at")).alias("updated_at")
    )
    cases = {
        "capture order": ["_ingested_at", "updated_at"],
        "source order": ["updated_at", "_ingested_at"],
    }
    for order_by in cases.values():
        by_polars, by_spark = run_twins(
            spark, "cdc", "latest_state", history.clear(), history, key="id", order_by=order_by
        )
        assert_same_rows(by_polars, by_spark, key="id")
        assert by_spark.num_rows > 0

    # A prior state (staged from the first captures, without CDC columns) and the rest.
    first = history.filter(pl.col("_ingested_at").dt.hour() < 5)
    rest = history.filter(pl.col("_ingested_at").dt.hour() >= 5)
    order_by = cases["capture order"]
    prior = function("polars", "cdc", "latest_state")(first.clear(), first, "id", order_by)
    prior = prior.select("id", "value", "updated_at")
    by_polars, by_spark = run_twins(
        spark, "cdc", "latest_state", prior, rest, key="id", order_by=order_by
    )
    assert_same_rows(by_polars, by_spark, key="id")
    assert by_spark.column_names == ["id", "value", "updated_at", "_ingested_at", "_cdc_operation"]


def test_empty_history_gives_an_empty_state_with_the_columns(spark: SparkSession) -> None:
    empty = _history([]).select("id", "value", "updated_at", "_ingested_at", "_cdc_operation")

    by_polars, by_spark = run_twins(
        spark, "cdc", "latest_state", empty, empty, key="id", order_by=["updated_at"]
    )

    assert by_spark.num_rows == 0
    assert by_spark.column_names == by_polars.column_names


def test_full_ties_go_to_the_greater_row_whatever_the_input_order(spark: SparkSession) -> None:
    # Polars takes the later row of the input; Spark keeps no input order, so its twin
    # breaks the tie on the remaining columns: the same row for any order or partitioning.
    tied = [("a", "a-first", 5, 7, "update"), ("a", "a-second", 5, 7, "update")]
    latest_state = function("spark", "cdc", "latest_state")

    states = []
    for rows in (tied, tied[::-1]):
        history = to_spark(spark, _history(rows)).repartition(2)
        state = latest_state(history.limit(0), history, "id", ["updated_at", "_ingested_at"])
        states.append(spark_arrow(state).to_pylist())

    assert states[0] == states[1]
    assert [row["value"] for row in states[0]] == ["a-second"]
