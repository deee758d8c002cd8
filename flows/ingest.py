"""Ingest: land every source family in the raw zone, one flow per family."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from prefect import flow

from c360.settings import Settings
from catalog.writer import WriteResult
from flows.heartbeats import parent_heartbeat_only
from flows.ingest_db import ingest_db_flow
from flows.ingest_files import ingest_files_flow
from flows.ingest_stream import ingest_stream_flow
from flows.ingest_tickets import ingest_tickets_flow


class Family(StrEnum):
    """The source families, as `c360 ingest` names them."""

    DB = "db"
    STREAM = "stream"
    FILES = "files"
    TICKETS = "tickets"


FAMILY_FLOWS: dict[Family, Callable[[Settings, str], list[WriteResult]]] = {
    Family.DB: ingest_db_flow,
    Family.STREAM: ingest_stream_flow,
    Family.FILES: ingest_files_flow,
    Family.TICKETS: ingest_tickets_flow,
}


@flow(name="ingest")
def ingest_flow(
    settings: Settings, run_id: str, families: list[Family] | None = None
) -> list[WriteResult]:
    """Land the given source families (all by default) in the raw zone."""
    with parent_heartbeat_only():
        writes: list[WriteResult] = []
        for family in families or list(Family):
            writes += FAMILY_FLOWS[family](settings, run_id)
        return writes
