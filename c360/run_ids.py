"""Run ids: what every pipeline step stamps its commits and records with."""

from datetime import UTC, datetime
from uuid import uuid4


def new_run_id() -> str:
    """A run id: its start time (UTC, so ids sort by time) and a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid4().hex[:6]}"
