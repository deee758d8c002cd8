"""Support tickets: the help desk's JSON-lines files land in `raw.support_tickets`.

Tickets arrive in the landing zone like the vendor drops (`tickets/tickets_YYYYMMDD.jsonl`)
and go the same way (`flows.ingest_files`): each file once, through the processed-files
ledger, every row carrying its file's key, size, checksum and line; a file that cannot be
parsed is moved to `quarantine/` with its reason. The ticket text and its metadata (created
time, channel, the email the customer typed) are kept as the text that arrived.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.tables import raw
from catalog.writer import WriteResult
from flows.ingest_files import LandingFeed, ingest_feed
from simulator.emitters.landing import open_landing

TICKETS = LandingFeed("tickets", "tickets/", raw.SUPPORT_TICKETS, "tickets")


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE, task_run_name="ingest-tickets")
def ingest_tickets_task(settings: Settings, run_id: str) -> list[WriteResult]:
    """Land the support desk's new ticket files."""
    scan = ingest_feed(open_catalog(settings), open_landing(settings), TICKETS, run_id=run_id)
    get_run_logger().info(scan.summary())
    return scan.writes


@flow(name="ingest-tickets")
def ingest_tickets_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Land the new support tickets in the raw zone."""
    return ingest_tickets_task(settings, run_id)
