"""Staging the clickstream: each event once, in event-time order, late arrivals flagged."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from catalog.tables import staging
from tests.transforms.frames import empty
from transforms.polars.clickstream import stage_clickstream_events

UTC_US = pl.Datetime("us", "UTC")
RAW_SCHEMA = {
    "event_id": pl.String,
    "event_type": pl.String,
    "event_at": UTC_US,
    "device_id": pl.String,
    "session_id": pl.String,
    "customer_id": pl.String,
    "page": pl.String,
    "query": pl.String,
    "product_id": pl.String,
    "payload": pl.String,
    "partition_key": pl.String,
    "arrived_at": UTC_US,
    "_source": pl.String,
    "_batch_id": pl.String,
    "_ingested_at": UTC_US,
    "_source_file": pl.String,
    "_source_position": pl.String,
}


def _at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def _record(
    event_id: str | None,
    *,
    event_at: datetime | None,
    arrived: datetime,
    sequence: int,
    ingested: datetime | None = None,
    page: str = "/home",
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "event_type": "page_view",
        "event_at": event_at,
        "device_id": "D1",
        "session_id": "S1",
        "customer_id": None,
        "page": page,
        "query": None,
        "product_id": None,
        "payload": "{}",
        "partition_key": "D1",
        "arrived_at": arrived,
        "_source": "clickstream.events",
        "_batch_id": f"b-{sequence}",
        "_ingested_at": ingested or arrived,
        "_source_file": None,
        "_source_position": f"shard-0:{sequence}",
    }


def _stage(*records: dict[str, object]) -> pl.DataFrame:
    return stage_clickstream_events(
        empty(staging.CLICKSTREAM_EVENTS), pl.LazyFrame(list(records), schema=RAW_SCHEMA)
    ).collect()


def test_each_event_once_in_event_time_order() -> None:
    staged = _stage(
        _record(
            "E2", event_at=_at(1, 10, 5), arrived=_at(1, 10, 6), sequence=2, ingested=_at(1, 10, 8)
        ),
        # Out of order in the same batch: put after E2, happened before it.
        _record(
            "E1", event_at=_at(1, 10, 1), arrived=_at(1, 10, 7), sequence=3, ingested=_at(1, 10, 8)
        ),
        _record("E3", event_at=_at(1, 11), arrived=_at(1, 11, 1), sequence=4),
    )

    assert staged.columns == staging.CLICKSTREAM_EVENTS.column_names
    assert staged["event_id"].to_list() == ["E1", "E2", "E3"]
    assert staged["is_late"].to_list() == [False, False, False]


def test_a_duplicate_event_keeps_its_first_arrival() -> None:
    staged = _stage(
        # The producer's retry, read in a later batch, listed first.
        _record("E1", event_at=_at(1, 10), arrived=_at(1, 10, 2), sequence=9, page="/retry"),
        _record("E1", event_at=_at(1, 10), arrived=_at(1, 10, 1), sequence=8, page="/first"),
        _record("E2", event_at=_at(1, 10, 5), arrived=_at(1, 10, 5), sequence=10),
    )

    assert staged.select("event_id", "page", "arrived_at").rows() == [
        ("E1", "/first", _at(1, 10, 1)),
        ("E2", "/home", _at(1, 10, 5)),
    ]


def test_duplicates_in_one_batch_keep_the_lower_sequence_number() -> None:
    # Same capture and arrival time: put order decides, by number, not text ("9" < "10").
    arrived = _at(1, 10)
    staged = _stage(
        _record("E1", event_at=_at(1, 9), arrived=arrived, sequence=10, page="/retry"),
        _record("E1", event_at=_at(1, 9), arrived=arrived, sequence=9, page="/first"),
    )

    assert staged["page"].to_list() == ["/first"]


def test_a_late_event_is_placed_by_event_time_and_flagged() -> None:
    staged = _stage(
        _record("E2", event_at=_at(1, 23), arrived=_at(1, 23, 1), sequence=1),
        _record("E3", event_at=_at(2, 1), arrived=_at(2, 1, 1), sequence=2),
        # Held back offline: happened on day 1, arrived and captured on day 2.
        _record("E1", event_at=_at(1, 12), arrived=_at(2, 2), sequence=3),
    )

    assert staged.select("event_id", "is_late").rows() == [
        ("E1", True),
        ("E2", False),
        ("E3", False),
    ]


def test_events_shuffled_within_one_batch_are_out_of_order_not_late() -> None:
    batch = _at(2, 3)
    staged = _stage(
        _record("E2", event_at=_at(2, 2), arrived=_at(2, 2), sequence=1, ingested=batch),
        _record("E1", event_at=_at(2, 1), arrived=_at(2, 2, 1), sequence=2, ingested=batch),
    )

    assert staged.select("event_id", "is_late").rows() == [("E1", False), ("E2", False)]
    assert staged["ingested_at"].to_list() == [batch, batch]
