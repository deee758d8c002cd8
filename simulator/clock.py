"""Simulated time: day 0 is a fixed date, so the same seed gives the same timestamps."""

from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def day_start(day: int) -> datetime:
    """The first instant of simulated `day` (UTC)."""
    return EPOCH + timedelta(days=day)


def day_date(day: int) -> date:
    return day_start(day).date()
