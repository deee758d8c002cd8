"""Staging the support tickets: each ticket once (its first arrival), in creation order."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from polars.testing import assert_frame_equal

from catalog.tables import staging
from tests.transforms.frames import empty
from transforms.polars.tickets import STAGED_COLUMNS, stage_support_tickets

UTC_US = pl.Datetime("us", "UTC")
RAW_SCHEMA = pl.Schema(
    {
        "ticket_id": pl.String(),
        "created_at": pl.String(),
        "channel": pl.String(),
        "subject": pl.String(),
        "body": pl.String(),
        "customer_email": pl.String(),
        "_source": pl.String(),
        "_batch_id": pl.String(),
        "_ingested_at": UTC_US,
        "_source_file": pl.String(),
        "_source_position": pl.String(),
        "_file_size": pl.Int64(),
        "_file_checksum": pl.String(),
    }
)


def _at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def _ticket(
    ticket_id: str | None,
    created: str,
    *,
    file: str,
    ingested: datetime,
    position: int,
    channel: str = "email",
    subject: str = "Where is my order?",
    email: str | None = "ada@example.com",
) -> dict[str, object]:
    return {
        "ticket_id": ticket_id,
        "created_at": created,
        "channel": channel,
        "subject": subject,
        "body": "Hi,\n\nMy package hasn't arrived.\n\nThanks,\nAda",
        "customer_email": email,
        "_source": "tickets",
        "_batch_id": f"b-{file}",
        "_ingested_at": ingested,
        "_source_file": file,
        "_source_position": str(position),
        "_file_size": 1278,
        "_file_checksum": "0" * 64,
    }


def _raw(*tickets: dict[str, object]) -> pl.LazyFrame:
    return pl.LazyFrame(list(tickets), schema=RAW_SCHEMA)


def _stage(*tickets: dict[str, object]) -> pl.DataFrame:
    return stage_support_tickets(empty(staging.SUPPORT_TICKETS), _raw(*tickets)).collect()


DAY1 = "tickets/tickets_20260101.jsonl"
DAY2 = "tickets/tickets_20260102.jsonl"


def test_each_ticket_is_typed_and_normalised() -> None:
    staged = _stage(
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
    )

    assert staged.columns == STAGED_COLUMNS
    assert staged.schema == empty(staging.SUPPORT_TICKETS).collect_schema()
    assert staged.drop("body").to_dicts() == [
        {
            "ticket_id": "TCK-0000001",
            "created_at": datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC),
            "channel": "phone",
            "subject": "URGENT: CHARGED TWICE",
            "customer_email": "joy.russo162@gmail.com",
            "source_file": DAY1,
            "ingested_at": _at(2),
        },
        {
            "ticket_id": "TCK-0000002",
            "created_at": datetime(2026, 1, 1, 1, 18, 52, tzinfo=UTC),
            "channel": "email",
            "subject": "Where is my order?",
            "customer_email": None,
            "source_file": DAY1,
            "ingested_at": _at(2),
        },
    ]
    assert staged["body"][0] == "Hi,\n\nMy package hasn't arrived.\n\nThanks,\nAda"


def test_a_ticket_landed_twice_keeps_its_first_arrival() -> None:
    staged = _stage(
        # A re-export in a later file, listed first.
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(3), position=1, subject="b"),
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1, subject="a"),
    )

    assert staged.select("ticket_id", "subject", "source_file").rows() == [("T1", "a", DAY1)]


def test_within_one_capture_the_earlier_file_then_row_wins() -> None:
    staged = _stage(
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(2), position=1, subject="b"),
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1, subject="a"),
        # Row 10 comes after row 9, by number.
        _ticket("T2", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=10, subject="y"),
        _ticket("T2", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=9, subject="x"),
    )

    assert staged.select("ticket_id", "subject").rows() == [("T1", "a"), ("T2", "x")]


def test_tickets_already_staged_are_not_returned_again() -> None:
    prior = _stage(
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1),
    )
    again = _raw(
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(3), position=1),
        _ticket("T2", "2026-01-02T08:00:00Z", file=DAY2, ingested=_at(3), position=2),
    )

    staged = stage_support_tickets(prior.lazy(), again).collect()

    assert staged["ticket_id"].to_list() == ["T2"]


def test_new_tickets_come_in_creation_order_then_id() -> None:
    staged = _stage(
        _ticket("T3", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=1),
        _ticket("T2", "2026-01-01T10:00:00Z", file=DAY1, ingested=_at(2), position=2),
        # Written with an offset: 09:30 UTC.
        _ticket("T9", "2026-01-01T10:30:00+01:00", file=DAY1, ingested=_at(2), position=3),
        _ticket("T1", "not a time", file=DAY1, ingested=_at(2), position=4),
    )

    assert staged.select("ticket_id", "created_at").rows() == [
        ("T9", _at(1, 9, 30)),
        ("T2", _at(1, 10)),
        ("T3", _at(1, 10)),
        ("T1", None),
    ]


def test_tickets_without_an_id_are_not_staged() -> None:
    staged = _stage(
        _ticket(None, "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1),
        _ticket(" ", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=2),
    )

    assert staged.is_empty()


def test_staging_file_by_file_equals_a_full_rebuild() -> None:
    first = [
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1),
        _ticket("T2", "2026-01-01T11:00:00Z", file=DAY1, ingested=_at(2), position=2),
    ]
    second = [
        # T1 re-exported, T3 created before T2 but landed a day later.
        _ticket("T1", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(3), position=1, email="x"),
        _ticket("T3", "2026-01-01T10:00:00Z", file=DAY2, ingested=_at(3), position=2),
        _ticket("T4", "2026-01-02T10:00:00Z", file=DAY2, ingested=_at(3), position=3),
    ]
    table = staging.SUPPORT_TICKETS

    staged_first = stage_support_tickets(empty(table), _raw(*first)).collect()
    appended = stage_support_tickets(staged_first.lazy(), _raw(*second)).collect()
    rebuilt = stage_support_tickets(empty(table), _raw(*first, *second)).collect()

    assert appended["ticket_id"].to_list() == ["T3", "T4"]
    assert_frame_equal(pl.concat([staged_first, appended]).sort("created_at", "ticket_id"), rebuilt)
