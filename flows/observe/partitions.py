"""Missing daily partitions: a day's file delivery its source published (the simulator's
manifest is the source's own account, as a vendor's control file would be) that raw never
landed. The databases and the stream are continuous, so their gaps show as replication lag
instead. A feed missing a day blocks its dbt models (as a paused feed does) until the file
lands, so no mart is built on a day with a hole in it.
"""

from __future__ import annotations

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.reader import equals, read_rows
from catalog.tables import ops
from flows.quality.sources import FILE_FEEDS
from flows.stage import STAGED
from simulator.emitters.landing import MALFORMED_SUFFIX
from simulator.truth import read_manifest


def missing_deliveries(manifest: pl.DataFrame, landed_keys: pl.Series) -> dict[str, list[str]]:
    """Each file feed's published files (`manifest`: day, dataset) not among `landed_keys`,
    as `day N: key`, oldest first; feeds missing none are left out."""
    missing: dict[str, list[str]] = {}
    for feed, landing in FILE_FEEDS.items():
        expected = manifest.filter(
            pl.col("dataset").str.starts_with(landing.prefix)
            & ~pl.col("dataset").str.ends_with(MALFORMED_SUFFIX)
            & ~pl.col("dataset").is_in(landed_keys.implode())
        ).sort("day", "dataset")
        if expected.height:
            missing[feed] = [f"day {d}: {k}" for d, k in expected.select("day", "dataset").rows()]
    return missing


def find_missing(catalog: Catalog, settings: Settings) -> dict[str, list[str]]:
    """The file deliveries raw lacks, by feed (see `missing_deliveries`)."""
    manifest = read_manifest(settings.sources_dir / "truth")
    ledger = read_rows(catalog, ops.INGEST_LEDGER, equals("status", "landed"), ["landing_key"])
    return missing_deliveries(manifest, ledger["landing_key"])


def blocked_tables(missing: dict[str, list[str]]) -> list[str]:
    """The staging tables whose dbt models wait for the feeds in `missing`."""
    return sorted(s.target.identifier_name for s in STAGED.values() if s.feed in missing)
