"""What the measures compare against: each feed's source, and its own count of rows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import polars as pl
import sqlalchemy as sa

from c360.settings import Settings
from catalog.tables import raw
from flows.ingest_db import DATABASES, ReplicatedTable, SourceDatabase
from flows.ingest_files import VENDOR_FEEDS, LandingFeed
from flows.ingest_tickets import TICKETS
from flows.quality.tables import UTC_US
from simulator.emitters.database import connect
from simulator.emitters.landing import MALFORMED_SUFFIX
from simulator.sources.clickstream import DISTINCT_DATASET
from simulator.truth import read_manifest, read_records
from simulator.world import read_published

# Feeds by raw table name: database tables (with their database) and landing-zone feeds.
DATABASE_FEEDS: dict[str, tuple[SourceDatabase, ReplicatedTable]] = {
    t.raw.name: (db, t) for db in DATABASES.values() for t in db.tables
}
FILE_FEEDS: dict[str, LandingFeed] = {f.table.name: f for f in (*VENDOR_FEEDS.values(), TICKETS)}
STREAM_FEED = raw.CLICKSTREAM_EVENTS.name
# File feeds whose every file is the whole catalog: the source's count is the newest file's.
SNAPSHOT_FILE_FEEDS = frozenset({VENDOR_FEEDS["products"].name})


@dataclass
class Sources:
    """What the measures compare against, each read at most once per `measure` call."""

    settings: Settings

    @cached_property
    def manifest(self) -> pl.DataFrame:
        return read_manifest(self.settings.sources_dir / "truth")

    @cached_property
    def records(self) -> pl.DataFrame:
        return read_records(self.settings.sources_dir / "truth")

    @cached_property
    def published(self) -> pl.DataFrame:
        """The publication log as `day`, `published_at`."""
        log = read_published(self.settings)
        return pl.DataFrame(
            {"day": list(log), "published_at": list(log.values())},
            schema={"day": pl.Int32, "published_at": UTC_US},
        )

    def database_url(self, database: SourceDatabase) -> str:
        url = database.url(self.settings.resolved_sources())
        assert url, f"every profile names a {database.name} database"
        return url


@dataclass(frozen=True)
class SourceCount:
    """How many rows a source holds by its own account, and their ids when it says which."""

    rows: int
    what: str
    keys: pl.Series | None = None


def source_count(sources: Sources, feed: str) -> SourceCount:
    """The source's own count for `feed`: never the pipeline's output."""
    if feed in DATABASE_FEEDS:
        database, table = DATABASE_FEEDS[feed]
        keys = _source_keys(sources.database_url(database), table)
        return SourceCount(keys.len(), f"rows in the source table {table.dataset}", keys)
    if feed == STREAM_FEED:
        distinct = sources.manifest.filter(pl.col("dataset") == DISTINCT_DATASET)
        return SourceCount(int(distinct["rows"].sum()), "distinct events put on the stream")
    landing = FILE_FEEDS[feed]
    if landing.name in SNAPSHOT_FILE_FEEDS:
        return _newest_file_count(sources.manifest, landing)
    ids = sources.records.filter(pl.col("source") == landing.name)["source_record_id"].unique()
    return SourceCount(ids.len(), f"ids the {landing.name} source emitted", ids)


def _source_keys(url: str, table: ReplicatedTable) -> pl.Series:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.column(table.key, sa.String)).select_from(sa.table(table.name))
            keys = [str(k) for k in conn.execute(query).scalars().all()]
    finally:
        engine.dispose()
    return pl.Series(table.key, keys, pl.String)


def _newest_file_count(manifest: pl.DataFrame, landing: LandingFeed) -> SourceCount:
    files = manifest.filter(
        pl.col("dataset").str.starts_with(landing.prefix)
        & ~pl.col("dataset").str.ends_with(MALFORMED_SUFFIX)
    ).sort("day", "dataset")
    if files.is_empty():
        return SourceCount(0, f"rows in the newest {landing.name} file")
    newest = files.row(-1, named=True)
    return SourceCount(newest["rows"], f"rows in the newest file, {newest['dataset']}")
