"""Change-data-capture history to current state: the DuckDB twin equals the Polars one."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import polars as pl
import pytest

from tests.transforms.duckdb.twins import assert_same_frame, relation
from tests.transforms.polars.test_cdc import _history as history
from transforms.duckdb.cdc import latest_state as duckdb_latest_state
from transforms.polars.cdc import latest_state as polars_latest_state

Row = tuple[str, str, int, int, str]

CASES: dict[str, list[Row]] = {
    "arrival order": [
        ("a", "a-v2", 5, 6, "update"),
        ("b", "b-v1", 1, 2, "insert"),
        ("a", "a-v3", 9, 10, "update"),
        ("a", "a-v1", 1, 2, "insert"),
        ("a", "a-late", 7, 11, "update"),
    ],
    "deletes": [
        ("a", "a-v1", 1, 2, "insert"),
        ("a", "a-gone", 3, 4, "delete"),
        ("b", "b-v1", 1, 2, "insert"),
        ("c", "c-v1", 1, 2, "insert"),
        ("c", "c-gone", 2, 2, "delete"),
        ("c", "c-back", 3, 4, "insert"),
    ],
    "source timestamp ties": [
        ("a", "a-captured-second", 5, 9, "update"),
        ("a", "a-captured-first", 5, 7, "update"),
        ("b", "b-captured-first", 5, 7, "update"),
        ("b", "b-deleted-second", 5, 8, "delete"),
    ],
    "full ties go to the later row": [
        ("a", "a-first", 5, 7, "update"),
        ("a", "a-second", 5, 7, "update"),
        ("b", "b-first", 5, 7, "update"),
        ("b", "b-second", 5, 7, "delete"),
        ("c", "c-first", 5, 7, "delete"),
        ("c", "c-second", 5, 7, "update"),
    ],
}
ORDERS = [["updated_at"], ["_ingested_at"], ["updated_at", "_ingested_at"], []]


def _at(hour: int) -> datetime:
    return datetime(2026, 1, 1, hour, tzinfo=UTC)


def _random_history(seed: int, rows: int = 2_000) -> pl.DataFrame:
    """Few keys and coarse clocks, so versions tie often; some timestamps and operations
    are null."""
    rng = random.Random(seed)
    return pl.DataFrame(
        {
            "id": [rng.choice("abcdefghij") for _ in range(rows)],
            "value": [f"v{i}" for i in range(rows)],
            "updated_at": [
                None if rng.random() < 0.1 else _at(rng.randrange(4)) for _ in range(rows)
            ],
            "_ingested_at": [_at(rng.randrange(3)) for _ in range(rows)],
            "_cdc_operation": [
                rng.choice(["insert", "update", "delete", None]) for _ in range(rows)
            ],
        },
        schema={
            "id": pl.String,
            "value": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
            "_ingested_at": pl.Datetime("us", "UTC"),
            "_cdc_operation": pl.String,
        },
    )


def _assert_same(prior: pl.LazyFrame, versions: pl.LazyFrame, order_by: list[str]) -> pl.DataFrame:
    expected = polars_latest_state(prior, versions, key="id", order_by=order_by)
    actual = duckdb_latest_state(relation(prior), relation(versions), key="id", order_by=order_by)
    return assert_same_frame(expected, actual, sort_by=["id"])


@pytest.mark.parametrize("order_by", ORDERS, ids=str)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_polars_cases(case: str, order_by: list[str]) -> None:
    versions = history(CASES[case])

    _assert_same(versions.clear(), versions, order_by)


@pytest.mark.parametrize("order_by", ORDERS, ids=str)
@pytest.mark.parametrize("seed", range(5))
def test_random_histories_with_ties_nulls_and_deletes(seed: int, order_by: list[str]) -> None:
    versions = _random_history(seed).lazy()

    state = _assert_same(versions.clear(), versions, order_by)

    assert state.height > 0


@pytest.mark.parametrize("seed", range(3))
def test_a_prior_state_is_older_than_all_history_and_may_lack_its_columns(seed: int) -> None:
    versions = _random_history(seed)
    # As a staging table holds it: the entity's columns only, one row per live key.
    prior = (
        polars_latest_state(versions.clear().lazy(), versions.lazy(), "id", ["updated_at"])
        .select("id", "value", "updated_at")
        .with_columns(pl.col("value") + "-prior")
    )
    newer = _random_history(seed + 100).filter(pl.col("id") < "f").lazy()

    state = _assert_same(prior, newer, ["_ingested_at", "updated_at"])

    assert state.filter(pl.col("value").str.ends_with("-prior")).height > 0
    assert state.columns == ["id", "value", "updated_at", "_ingested_at", "_cdc_operation"]


def test_a_prior_state_with_empty_history_is_kept() -> None:
    versions = _random_history(0)
    prior = polars_latest_state(versions.clear().lazy(), versions.lazy(), "id", ["updated_at"])

    state = _assert_same(prior, versions.clear().lazy(), ["updated_at"])

    assert state.height == prior.collect().height


def test_empty_history_and_prior_give_an_empty_state() -> None:
    versions = _random_history(0).clear().lazy()

    state = _assert_same(versions, versions, ["updated_at"])

    assert state.is_empty()
