"""Ingest: land every source family in the raw zone, one flow per family."""

from __future__ import annotations

from prefect import flow

from c360.settings import Settings
from catalog.writer import WriteResult
from flows.ingest_db import ingest_db_flow


@flow(name="ingest")
def ingest_flow(settings: Settings, run_id: str) -> list[WriteResult]:
    """Land every source family in the raw zone."""
    return ingest_db_flow(settings, run_id)
