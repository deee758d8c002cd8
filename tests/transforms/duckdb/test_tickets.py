"""Staging the support tickets: the DuckDB twin equals the Polars one."""

from __future__ import annotations

import random

import polars as pl
import pytest

from catalog.tables import staging
from tests.transforms.duckdb.test_normalise import EMAILS, TIMESTAMPS
from tests.transforms.duckdb.twins import assert_same_stage
from tests.transforms.frames import empty
from tests.transforms.polars.test_tickets import DAY1, DAY2, RAW_SCHEMA, _at, _ticket
from transforms.duckdb.tickets import stage_support_tickets as duckdb_stage
from transforms.polars.tickets import stage_support_tickets as polars_stage

Ticket = dict[str, object]
TICKETS = staging.SUPPORT_TICKETS

CASES: dict[str, list[Ticket]] = {
    "typed and normalised": [
        _ticket(
            "TCK-0000001",
            "2026-01-01T00:54:54Z",
            file=DAY1,
            ingested=_at(2),
            position=1,
            channel="phone",
            subject="URGENT: CHARGED TWICE",
            email=" JOY.RUSSO162@GMAIL.COM",
        ),
        _ticket(
            "TCK-0000002",
            "2026-01-01T01:18:52Z",
            file=DAY1,
            ingested=_at(2),
            position=2,
            email=None,
        ),
    ],
    "landed twice": [
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(3), position=1, subject="b"),
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1, subject="a"),
    ],
    "earlier file, then row": [
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(2), position=1, subject="b"),
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1, subject="a"),
        _ticket("T2", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=10, subject="y"),
        _ticket("T2", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=9, subject="x"),
        # The same row read twice: the first.
        _ticket("T3", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=3, subject="p"),
        _ticket("T3", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=3, subject="q"),
    ],
    "creation order, then id": [
        _ticket("T3", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=1),
        _ticket("T2", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=2),
        _ticket("T9", "2026-01-01T10:30:00+01:00", file=DAY1, ingested=_at(2), position=3),
        _ticket("T1", "not a time", file=DAY1, ingested=_at(2), position=4),
        _ticket("T0", "2026-01-01t09:30:00.1234567z", file=DAY1, ingested=_at(2), position=5),
    ],
    "ids trimmed, blanks dropped": [
        _ticket(None, "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1),
        _ticket(" ", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=2),
        _ticket("\u00a0T5\t", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=3),
        _ticket("T5", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=4, subject="no"),
    ],
}


def _raw(tickets: list[Ticket]) -> pl.LazyFrame:
    return pl.LazyFrame(tickets, schema=RAW_SCHEMA)


def _random_tickets(seed: int, days: range, rows: int = 300) -> list[Ticket]:
    rng = random.Random(seed)
    return [
        _ticket(
            rng.choice([f"T{rng.randrange(100)}", f" T{rng.randrange(100)} ", None, ""]),
            str(rng.choice(TIMESTAMPS)),
            file=f"tickets/{day}-{rng.randrange(2)}.jsonl",
            ingested=_at(day),
            position=rng.randrange(1, 12),
            email=rng.choice(EMAILS),
        )
        for day in (rng.choice(days) for _ in range(rows))
    ]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_same_staged_tickets(case: str) -> None:
    assert_same_stage(polars_stage, duckdb_stage, TICKETS, empty(TICKETS), _raw(CASES[case]))


def test_tickets_already_staged_are_not_returned_again() -> None:
    prior = polars_stage(empty(TICKETS), _raw(CASES["landed twice"]))
    again = _raw(
        [
            _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(4), position=1),
            _ticket("T2", "2026-01-02T08:00:00Z", file=DAY2, ingested=_at(4), position=2),
        ]
    )

    appended = assert_same_stage(polars_stage, duckdb_stage, TICKETS, prior, again)

    assert appended.column("ticket_id").to_pylist() == ["T2"]


@pytest.mark.parametrize("seed", range(3))
def test_random_files_full_and_incremental(seed: int) -> None:
    first = _random_tickets(seed, range(1, 4))
    second = _random_tickets(seed + 100, range(4, 7))
    prior = polars_stage(empty(TICKETS), _raw(first))

    assert_same_stage(polars_stage, duckdb_stage, TICKETS, empty(TICKETS), _raw(first + second))
    assert_same_stage(polars_stage, duckdb_stage, TICKETS, prior, _raw(second))
