"""What the measures compare against: each feed's source, and its own count of rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from polars._typing import SchemaDict
from sqlalchemy.engine import Engine

from c360.settings import Settings
from catalog.tables import raw
from flows.ingest_db import DATABASES, ReplicatedTable, SourceDatabase
from flows.ingest_files import VENDOR_FEEDS, LandingFeed
from flows.ingest_tickets import TICKETS
from flows.quality.tables import UTC_US
from simulator.context import TRUTH_SCHEMA
from simulator.emitters.database import connect
from simulator.emitters.landing import MALFORMED_SUFFIX
from simulator.sources.clickstream import DISTINCT_DATASET
from simulator.truth import MANIFEST, MANIFEST_SCHEMA, RECORDS
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
    _landed: dict[tuple[Path, ...], pl.DataFrame] = field(
        default_factory=dict, init=False, repr=False
    )
    _engines: dict[str, Engine] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def manifest(self) -> pl.DataFrame:
        """Every day's manifest (`simulator.truth.read_manifest`)."""
        return _read_truth(self._truth_files(MANIFEST), MANIFEST_SCHEMA)

    @cached_property
    def checksums(self) -> dict[str, str]:
        """The checksum the manifest recorded for each dataset (a landed file: its key)."""
        return dict(zip(self.manifest["dataset"], self.manifest["checksum"], strict=True))

    @cached_property
    def record_files(self) -> list[Path]:
        """The truth's record files, one a day, oldest first."""
        return self._truth_files(RECORDS)

    def landed_ids(self, files: Sequence[Path]) -> pl.DataFrame:
        """The ids the landing-zone sources emitted on the days of `files` (`source`,
        `source_record_id`): the truth's records of those sources only."""
        if tuple(files) not in self._landed:
            names = [f.name for f in FILE_FEEDS.values()]
            ids = _read_truth(files, TRUTH_SCHEMA, pl.col("source").is_in(names))
            self._landed[tuple(files)] = ids.select("source", "source_record_id")
        return self._landed[tuple(files)]

    @cached_property
    def published(self) -> pl.DataFrame:
        """The publication log as `day`, `published_at`."""
        log = read_published(self.settings)
        return pl.DataFrame(
            {"day": list(log), "published_at": list(log.values())},
            schema={"day": pl.Int32, "published_at": UTC_US},
        )

    def _truth_files(self, kind: str) -> list[Path]:
        return sorted((self.settings.sources_dir / "truth" / kind).glob("*.parquet"))

    def database(self, database: SourceDatabase) -> Engine:
        """An engine for `database`, opened once per `measure` call (`close` disposes of it).

        Raises:
            SourceUnavailableError: the database does not answer.
        """
        url = database.url(self.settings.resolved_sources())
        assert url, f"every profile names a {database.name} database"
        if url not in self._engines:
            self._engines[url] = connect(url)
        return self._engines[url]

    def close(self) -> None:
        """Dispose of the source database engines opened."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


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
        keys = _source_keys(sources.database(database), table)
        return SourceCount(keys.len(), f"rows in the source table {table.dataset}", keys)
    if feed == STREAM_FEED:
        distinct = sources.manifest.filter(pl.col("dataset") == DISTINCT_DATASET)
        return SourceCount(int(distinct["rows"].sum()), "distinct events put on the stream")
    landing = FILE_FEEDS[feed]
    if landing.name in SNAPSHOT_FILE_FEEDS:
        return _newest_file_count(sources.manifest, landing)
    return emitted_count(landing, emitted_ids(sources, landing, sources.record_files))


def emitted_ids(sources: Sources, landing: LandingFeed, files: Sequence[Path]) -> pl.Series:
    """The distinct ids `landing`'s source emitted on the days of the truth's `files`."""
    ids = sources.landed_ids(files).filter(pl.col("source") == landing.name)
    return ids["source_record_id"].unique()


def emitted_count(landing: LandingFeed, ids: pl.Series) -> SourceCount:
    """The count of a landing source whose truth names the ids it emitted, `ids`."""
    return SourceCount(ids.len(), f"ids the {landing.name} source emitted", ids)


def _read_truth(
    files: Sequence[Path], schema: SchemaDict, where: pl.Expr | None = None
) -> pl.DataFrame:
    """The truth's `files` (one a day) read together: one parallel scan, not a read a day."""
    if not files:
        return pl.DataFrame(schema=schema)
    scan = pl.scan_parquet(list(files))
    return (scan if where is None else scan.filter(where)).collect()


def _source_keys(engine: Engine, table: ReplicatedTable) -> pl.Series:
    """Every key of the source table, fetched through the driver's own cursor: SQLAlchemy's
    result rows would cost twice what the query does (a row per key, the table whole)."""
    query = sa.select(sa.column(table.key, sa.String)).select_from(sa.table(table.name))
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(str(query.compile(dialect=engine.dialect)))
            keys = [key for (key,) in cursor.fetchall()]
        finally:
            cursor.close()
    return pl.Series(table.key, keys).cast(pl.String)


def _newest_file_count(manifest: pl.DataFrame, landing: LandingFeed) -> SourceCount:
    files = manifest.filter(
        pl.col("dataset").str.starts_with(landing.prefix)
        & ~pl.col("dataset").str.ends_with(MALFORMED_SUFFIX)
    ).sort("day", "dataset")
    if files.is_empty():
        return SourceCount(0, f"rows in the newest {landing.name} file")
    newest = files.row(-1, named=True)
    return SourceCount(newest["rows"], f"rows in the newest file, {newest['dataset']}")
