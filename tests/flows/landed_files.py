"""Landing-zone ingestion checked from the outside: raw rows and the ledger against the
simulator's manifest, for the file and ticket flow tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.registry import TABLES, ensure_table
from catalog.tables import ops
from flows.ingest_files import LANDED, QUARANTINE_PREFIX, QUARANTINED, FeedScan, LandingFeed
from flows.ingest_files import ingest_feed as scan_feed
from simulator.emitters.landing import MALFORMED_SUFFIX, open_landing, rows_checksum
from simulator.truth import read_manifest


def ingest(settings: Settings, feeds: Iterable[LandingFeed], run_id: str = "run") -> list[FeedScan]:
    """Scan every feed once, as the flows' tasks do."""
    catalog, landing = open_catalog(settings), open_landing(settings)
    return [scan_feed(catalog, landing, feed, run_id=run_id) for feed in feeds]


def rows_of(catalog: Catalog, table: str) -> pl.DataFrame:
    """Every row of a declared lakehouse table (none if it was never created)."""
    frame = pl.from_arrow(ensure_table(catalog, TABLES[table]).scan().to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def ledger(catalog: Catalog) -> pl.DataFrame:
    return rows_of(catalog, ops.INGEST_LEDGER.identifier_name)


def snapshot_ids(catalog: Catalog, tables: Iterable[str]) -> dict[str, int | None]:
    ids = {}
    for name in tables:
        snapshot = ensure_table(catalog, TABLES[name]).current_snapshot()
        ids[name] = snapshot.snapshot_id if snapshot else None
    return ids


def file_rows(catalog: Catalog, entry: dict[str, object]) -> pl.DataFrame:
    """A landed file's raw rows with the file's own columns, named as in the file."""
    table = rows_of(catalog, str(entry["raw_table"]))
    columns = json.loads(str(entry["file_schema"]))
    mine = table.filter(pl.col("_source_file") == entry["landing_key"])
    return mine.select(pl.col(c["raw_column"]).alias(c["name"]) for c in columns)


def reconcile(settings: Settings, catalog: Catalog, source: str, day: int, prefix: str = "") -> int:
    """Check every file `source` emitted on `day` (under `prefix`) against the manifest: a
    good file's raw rows (count, checksum, file metadata on every row), a broken file's
    quarantine.

    Returns:
        How many files were checked.
    """
    manifest = read_manifest(settings.sources_dir / "truth").filter(
        (pl.col("day") == day)
        & (pl.col("source") == source)
        & pl.col("dataset").str.starts_with(prefix)
    )
    landing = open_landing(settings)
    quarantine = set(landing.list(QUARANTINE_PREFIX))
    entries = ledger(catalog)
    for emitted in manifest.iter_rows(named=True):
        key = emitted["dataset"].removesuffix(MALFORMED_SUFFIX)
        matches = entries.filter(pl.col("landing_key") == key)
        assert matches.height == 1, f"{key}: {matches.height} ledger entries"
        entry = matches.row(0, named=True)
        if emitted["dataset"].endswith(MALFORMED_SUFFIX):
            assert entry["status"] == QUARANTINED, key
            assert entry["reason"], key
            assert entry["quarantine_key"] in quarantine, key
            assert landing.list(key) == [], f"{key} is still in the landing zone"
            assert entry["file_checksum"] == _sha256(landing.get(entry["quarantine_key"]))
            continue
        assert entry["status"] == LANDED, f"{key}: {entry['reason']}"
        assert entry["rows"] == emitted["rows"], key
        table = rows_of(catalog, entry["raw_table"])
        raw = table.filter(pl.col("_source_file") == key)
        assert raw.height == emitted["rows"], key
        if emitted["rows"]:
            assert rows_checksum(file_rows(catalog, entry)) == emitted["checksum"], key
        data = landing.get(key)
        assert raw["_file_checksum"].unique().to_list() == [_sha256(data)], key
        assert raw["_file_size"].unique().to_list() == [len(data)], key
        assert raw["_batch_id"].unique().to_list() == [entry["batch_id"]], key
        positions = raw["_source_position"].cast(pl.Int64).sort().to_list()
        assert positions == list(range(1, emitted["rows"] + 1)), key
    return manifest.height


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
