"""Living simulated days through ingestion and staging, as the pipeline does, for the tests."""

from __future__ import annotations

from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.contracts import load_contracts
from flows.ingest_db import DATABASES, capture_database
from flows.ingest_files import VENDOR_FEEDS, ingest_feed
from flows.ingest_stream import consume
from flows.ingest_tickets import TICKETS
from flows.stage import STAGED, StageOutcome, stage_table
from simulator.emitters.landing import open_landing
from transforms.engines import EngineName


def ingest_everything(settings: Settings, catalog: Catalog, run_id: str) -> None:
    """Capture both databases, drain the stream and land every feed's new files."""
    sources = settings.resolved_sources()
    for database in DATABASES.values():
        url = database.url(sources)
        assert url
        capture_database(catalog, url, database.tables, run_id=run_id)
    consume(settings, follow=False, run_id=run_id)
    landing = open_landing(settings)
    for feed in (*VENDOR_FEEDS.values(), TICKETS):
        ingest_feed(catalog, landing, feed, run_id=run_id)


def stage_everything(
    settings: Settings,
    catalog: Catalog,
    run_id: str,
    *,
    engine: EngineName = "polars",
    full: bool = False,
) -> dict[str, StageOutcome]:
    """Stage every table, keyed by staging table name."""
    contracts = load_contracts(settings.contracts_dir)
    return {
        name: stage_table(
            catalog, staged, contracts[staged.feed], engine=engine, run_id=run_id, full=full
        )
        for name, staged in STAGED.items()
    }
