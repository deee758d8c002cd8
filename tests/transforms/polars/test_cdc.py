"""Change-data-capture history to current state."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from transforms.polars.cdc import latest_state


def _at(hour: int) -> datetime:
    return datetime(2026, 1, 1, hour, tzinfo=UTC)


def _history(rows: list[tuple[str, str, int, int, str]]) -> pl.LazyFrame:
    """(key, value, updated hour, ingested hour, operation) rows as a CDC history."""
    return pl.LazyFrame(
        {
            "id": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "updated_at": [_at(r[2]) for r in rows],
            "_ingested_at": [_at(r[3]) for r in rows],
            "_cdc_operation": [r[4] for r in rows],
        }
    )


def _state(history: pl.LazyFrame, order_by: list[str]) -> dict[str, str]:
    current = latest_state(history.clear(), history, key="id", order_by=order_by).collect()
    assert current["id"].is_unique().all()
    return dict(zip(current["id"], current["value"], strict=True))


def test_the_newest_version_of_each_key_wins_whatever_the_arrival_order() -> None:
    history = _history(
        [
            ("a", "a-v2", 5, 6, "update"),
            ("b", "b-v1", 1, 2, "insert"),
            ("a", "a-v3", 9, 10, "update"),
            ("a", "a-v1", 1, 2, "insert"),
            # Arrived late: captured after a-v3 but older in the source.
            ("a", "a-late", 7, 11, "update"),
        ]
    )

    assert _state(history, ["updated_at"]) == {"a": "a-v3", "b": "b-v1"}


def test_deleted_keys_are_dropped() -> None:
    history = _history(
        [
            ("a", "a-v1", 1, 2, "insert"),
            ("a", "a-gone", 3, 4, "delete"),
            ("b", "b-v1", 1, 2, "insert"),
            # Deleted, then created again: live.
            ("c", "c-v1", 1, 2, "insert"),
            ("c", "c-gone", 2, 2, "delete"),
            ("c", "c-back", 3, 4, "insert"),
        ]
    )

    assert _state(history, ["updated_at"]) == {"b": "b-v1", "c": "c-back"}


def test_ties_on_the_source_timestamp_go_to_the_later_capture() -> None:
    history = _history(
        [
            ("a", "a-captured-second", 5, 9, "update"),
            ("a", "a-captured-first", 5, 7, "update"),
            ("b", "b-captured-first", 5, 7, "update"),
            ("b", "b-deleted-second", 5, 8, "delete"),
        ]
    )

    assert _state(history, ["updated_at", "_ingested_at"]) == {"a": "a-captured-second"}


def test_full_ties_go_to_the_later_row() -> None:
    history = _history([("a", "a-first", 5, 7, "update"), ("a", "a-second", 5, 7, "update")])

    assert _state(history, ["updated_at", "_ingested_at"]) == {"a": "a-second"}


def test_columns_are_kept_and_empty_history_gives_empty_state() -> None:
    history = _history([("a", "a-v1", 1, 2, "insert")])

    current = latest_state(history.clear(), history, key="id", order_by=["updated_at"]).collect()
    empty = latest_state(
        history.head(0), history.head(0), key="id", order_by=["updated_at"]
    ).collect()

    assert current.columns == history.collect_schema().names()
    assert current.row(0) == ("a", "a-v1", _at(1), _at(2), "insert")
    assert empty.height == 0
    assert empty.schema == current.schema
