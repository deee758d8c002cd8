"""How fresh each feed is, in wall-clock time, against its latency tier.

The simulated sources stamp rows with simulated time (2026-01-01 on), so "when did this
data become available" is the wall-clock time the simulator published its day (the
publication log, `simulator.world.read_published`), or the time the stream accepted an
event. Per feed, a run records:

- freshness lag: now minus when the newest data raw holds became available;
- replication lag: how long the oldest source data raw has not captured yet has waited
  (0 when caught up). Data counts as captured once a capture of the feed started after it
  was published: a completed `ingest` step of a run, or a commit to the feed's raw table.
  A quiet source (nothing new published) is caught up, however old its newest row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.reader import column_max, equals, read_rows
from catalog.registry import ensure_table
from catalog.tables import ops, raw
from catalog.writer import BATCH_ID
from flows.observe.steps import COMPLETED, UTC_US
from flows.observe.tiers import STREAM_FEEDS, feed_tier
from flows.quality.sources import DATABASE_FEEDS, FILE_FEEDS
from flows.quality.timeliness import PARENT_STAMPS
from simulator.clock import day_start
from simulator.truth import read_manifest
from simulator.world import read_published

FEEDS = tuple(t.name for t in raw.TABLES)


def newest_available(
    catalog: Catalog, settings: Settings, published: Mapping[int, datetime]
) -> dict[str, datetime | None]:
    """When the newest data raw holds for each feed became available at its source (None:
    raw holds none, or its day was never published)."""
    newest: dict[str, datetime | None] = {}
    for feed in STREAM_FEEDS:
        newest[feed] = column_max(ensure_table(catalog, raw.CLICKSTREAM_EVENTS), "arrived_at")
    for feed, (_, table) in DATABASE_FEEDS.items():
        stamp = column_max(ensure_table(catalog, table.raw), "_source_committed_at")
        newest[feed] = None if stamp is None else published.get(_day_of(stamp))
    # Order lines carry no commit time: they are committed with their order.
    for feed, (parent, _, _) in PARENT_STAMPS.items():
        newest[feed] = newest[feed] or newest[parent.name]
    ledger = read_rows(catalog, ops.INGEST_LEDGER, equals("status", "landed"))
    days = read_manifest(settings.sources_dir / "truth").select(landing_key="dataset", day="day")
    landed = ledger.join(days, on="landing_key", how="inner")
    for feed, landing in FILE_FEEDS.items():
        feed_days = landed.filter(pl.col("feed") == landing.name)["day"]
        newest[feed] = published.get(int(feed_days.max())) if feed_days.len() else None  # type: ignore[arg-type]
    return newest


def _day_of(stamp: datetime) -> int:
    """The simulated day a source timestamp falls on; history before the start is day 0's."""
    return max(0, (stamp - day_start(0)).days)


def last_ingest_started(catalog: Catalog) -> datetime | None:
    """When the newest completed `ingest` step of a run started."""
    steps = read_rows(catalog, ops.RUN_STEPS, equals("step", "ingest"))
    return steps.filter(pl.col("status") == COMPLETED)["started_at"].max()  # type: ignore[return-value]


def captured_since(catalog: Catalog, feed: str, ingest_started: datetime | None) -> datetime | None:
    """The latest time a capture of `feed` is known to have started: `ingest_started` (a
    run's ingest step) or the feed's newest raw commit."""
    table = ensure_table(catalog, next(t for t in raw.TABLES if t.name == feed))
    commits = [
        datetime.fromtimestamp(s.timestamp_ms / 1000, UTC)
        for s in table.snapshots()
        if s.summary is not None and BATCH_ID in s.summary.additional_properties
    ]
    times = [t for t in (ingest_started, *commits) if t is not None]
    return max(times) if times else None


def replication_lag_s(
    published: Mapping[int, datetime], captured: datetime | None, now: datetime
) -> float:
    """How long the oldest day published after `captured` has waited (0: none has)."""
    waiting = [at for at in published.values() if captured is None or at > captured]
    return max(0.0, (now - min(waiting)).total_seconds()) if waiting else 0.0


def measure_freshness(
    catalog: Catalog, settings: Settings, run_id: str, now: datetime | None = None
) -> pl.DataFrame:
    """One `ops.source_freshness` row per feed, as of `now` (default: the clock)."""
    now = now or datetime.now(UTC)
    published = read_published(settings)
    newest = newest_available(catalog, settings, published)
    ingest_started = last_ingest_started(catalog)
    rows = []
    for feed in FEEDS:
        tier = feed_tier(feed)
        at = newest.get(feed)
        rows.append(
            {
                "run_id": run_id,
                "feed": feed,
                "tier": tier.number,
                "sla_minutes": float(tier.sla_minutes),
                "newest_at": at,
                "freshness_lag_s": None if at is None else (now - at).total_seconds(),
                "replication_lag_s": replication_lag_s(
                    published, captured_since(catalog, feed, ingest_started), now
                ),
                "measured_at": now,
            }
        )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "newest_at": UTC_US,
            "freshness_lag_s": pl.Float64,
            "measured_at": UTC_US,
        },
    )
