"""Staging the clickstream: the DuckDB twin equals the Polars one."""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
import pytest

from catalog.tables import staging
from tests.transforms.duckdb.twins import assert_same_frame, assert_same_stage, relation
from tests.transforms.frames import empty
from tests.transforms.polars.test_clickstream import RAW_SCHEMA, _at, _record
from transforms.duckdb.clickstream import first_arrivals as duckdb_first_arrivals
from transforms.duckdb.clickstream import stage_clickstream_events as duckdb_stage
from transforms.polars.clickstream import first_arrivals as polars_first_arrivals
from transforms.polars.clickstream import stage_clickstream_events as polars_stage

Record = dict[str, object]
EVENTS = staging.CLICKSTREAM_EVENTS


def _with(record: Record, **values: object) -> Record:
    return {**record, **values}


CASES: dict[str, list[Record]] = {
    "event-time order": [
        _record(
            "E2", event_at=_at(1, 10, 5), arrived=_at(1, 10, 6), sequence=2, ingested=_at(1, 10, 8)
        ),
        _record(
            "E1", event_at=_at(1, 10, 1), arrived=_at(1, 10, 7), sequence=3, ingested=_at(1, 10, 8)
        ),
        _record("E3", event_at=_at(1, 11), arrived=_at(1, 11, 1), sequence=4),
    ],
    "a retry in a later batch": [
        _record("E1", event_at=_at(1, 10), arrived=_at(1, 10, 2), sequence=9, page="/retry"),
        _record("E1", event_at=_at(1, 10), arrived=_at(1, 10, 1), sequence=8, page="/first"),
        _record("E2", event_at=_at(1, 10, 5), arrived=_at(1, 10, 5), sequence=10),
    ],
    "a retry in the same batch, by sequence number": [
        _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=10, page="/retry"),
        _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=9, page="/first"),
        _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=100, page="/third"),
    ],
    "the same record read twice": [
        _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=1, page="/first"),
        _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=1, page="/second"),
    ],
    "positions without a sequence number": [
        _with(
            _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=1, page="/a"),
            _source_position=None,
        ),
        _with(
            _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=2, page="/b"),
            _source_position="shard-0:",
        ),
        _with(
            _record("E1", event_at=_at(1, 9), arrived=_at(1, 10), sequence=3, page="/c"),
            _source_position="shard-0:7",
        ),
    ],
    "a late event": [
        _record("E2", event_at=_at(1, 23), arrived=_at(1, 23, 1), sequence=1),
        _record("E3", event_at=_at(2, 1), arrived=_at(2, 1, 1), sequence=2),
        _record("E1", event_at=_at(1, 12), arrived=_at(2, 2), sequence=3),
    ],
    "shuffled within one batch": [
        _record("E2", event_at=_at(2, 2), arrived=_at(2, 2), sequence=1, ingested=_at(2, 3)),
        _record("E1", event_at=_at(2, 1), arrived=_at(2, 2, 1), sequence=2, ingested=_at(2, 3)),
    ],
    # E3 happened before E1 was captured, yet is not late: the batch between them has no
    # event time, and Polars' cumulative maximum is null there (the twin does the same).
    "a batch without event times": [
        _record("E1", event_at=_at(2, 5), arrived=_at(2, 5), sequence=1, ingested=_at(2, 6)),
        _record("E2", event_at=None, arrived=_at(2, 7), sequence=2, ingested=_at(2, 8)),
        _record("E3", event_at=_at(2, 4), arrived=_at(2, 9), sequence=3, ingested=_at(2, 10)),
        _record("E4", event_at=_at(2, 1), arrived=_at(2, 11), sequence=4, ingested=_at(2, 12)),
    ],
    "equal event times": [
        _record("E2", event_at=_at(2, 1), arrived=_at(2, 2), sequence=1, ingested=_at(2, 3)),
        _record("E1", event_at=_at(2, 1), arrived=_at(2, 2), sequence=2, ingested=_at(2, 3)),
        _record("E3", event_at=_at(2, 1), arrived=_at(2, 4), sequence=3, ingested=_at(2, 5)),
    ],
}


def _raw(records: list[Record]) -> pl.LazyFrame:
    return pl.LazyFrame(records, schema=RAW_SCHEMA)


def _random_records(seed: int, batches: range, rows: int = 600) -> list[Record]:
    """A stream with retries, shuffling, late and undated events, read in few batches."""
    rng = random.Random(seed)
    records = []
    for sequence in range(rows):
        ingested = _at(3, rng.choice(batches))
        event_id = f"E{rng.randrange(rows // 2)}"  # about half are retries
        event_at = ingested - timedelta(minutes=rng.randrange(-10, 300))
        records.append(
            _record(
                event_id,
                event_at=None if rng.random() < 0.02 else event_at,
                arrived=ingested - timedelta(minutes=rng.randrange(3)),
                sequence=rng.choice([sequence, sequence * 1000, 7]),
                ingested=ingested,
                page=f"/p{sequence}",
            )
        )
    return records


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_same_staged_events(case: str) -> None:
    assert_same_stage(polars_stage, duckdb_stage, EVENTS, empty(EVENTS), _raw(CASES[case]))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_same_first_arrivals(case: str) -> None:
    raw = _raw(CASES[case])

    assert_same_frame(
        polars_first_arrivals(raw), duckdb_first_arrivals(relation(raw)), sort_by=["event_id"]
    )


def test_records_without_an_event_id_are_one_event() -> None:
    # The contract quarantines them; without it, both engines keep one.
    raw = _raw(
        [
            _record(None, event_at=_at(1, 9), arrived=_at(1, 10), sequence=2, page="/second"),
            _record(None, event_at=_at(1, 9), arrived=_at(1, 10), sequence=1, page="/first"),
        ]
    )

    staged = assert_same_frame(
        polars_stage(empty(EVENTS), raw), duckdb_stage(relation(empty(EVENTS)), relation(raw))
    )

    assert staged["page"].to_list() == ["/first"]


@pytest.mark.parametrize("seed", range(3))
def test_random_streams_full_and_incremental(seed: int) -> None:
    earlier = _random_records(seed, batches=range(0, 4))
    later = _random_records(seed, batches=range(4, 8))  # the same event ids: retries again

    full = assert_same_stage(
        polars_stage, duckdb_stage, EVENTS, empty(EVENTS), _raw(earlier + later)
    )
    prior = polars_stage(empty(EVENTS), _raw(earlier))
    appended = assert_same_stage(polars_stage, duckdb_stage, EVENTS, prior, _raw(later))

    assert full.num_rows > 0
    assert appended.num_rows < full.num_rows


def test_events_staged_before_are_not_staged_again() -> None:
    # A later run sees the staged events again (an overlapping read) plus a late one.
    first = CASES["a late event"]
    prior = polars_stage(empty(EVENTS), _raw(first))
    again = [*first, _record("E0", event_at=_at(1, 1), arrived=_at(3, 1), sequence=9)]

    appended = assert_same_stage(polars_stage, duckdb_stage, EVENTS, prior, _raw(again))

    assert appended.to_pydict()["event_id"] == ["E0"]
    assert appended.to_pydict()["is_late"] == [True]
