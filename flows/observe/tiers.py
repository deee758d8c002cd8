"""The seed's latency tiers (section 1.2.1) and which tier each feed and step answers to."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.tables import raw


@dataclass(frozen=True)
class Tier:
    number: int
    layer: str
    sla_minutes: float
    # The run step whose completion makes a day's data reach the tier's layer.
    step: str


TIERS: tuple[Tier, ...] = (
    Tier(0, "streaming ingestion", 5, "ingest"),
    Tier(1, "batch replication", 60, "ingest"),
    Tier(2, "staging transforms", 90, "stage"),
    Tier(3, "curated models", 180, "publish"),
)
BY_NUMBER = {t.number: t for t in TIERS}

# The clickstream is captured continuously (tier 0); every other feed is a replicated
# database table or a file drop (tier 1).
STREAM_FEEDS = frozenset({raw.CLICKSTREAM_EVENTS.name})


def feed_tier(feed: str) -> Tier:
    """The latency tier a raw feed's capture answers to."""
    return BY_NUMBER[0 if feed in STREAM_FEEDS else 1]
