"""Ingest: support tickets land in raw once, with their metadata and their file's."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.tables import ops, raw
from flows.ingest_files import LANDED, QUARANTINE_PREFIX, QUARANTINED
from flows.ingest_tickets import TICKETS
from simulator.emitters.landing import open_landing
from simulator.truth import read_manifest
from simulator.world import simulate
from tests.flows.landed_files import ingest, ledger, reconcile, rows_of, snapshot_ids

SOURCE = "tickets"
TABLES = [raw.SUPPORT_TICKETS.identifier_name, ops.INGEST_LEDGER.identifier_name]
TICKET_COLUMNS = ["ticket_id", "created_at", "channel", "subject", "body", "customer_email"]


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_every_day_lands_each_ticket_file_as_the_manifest_says(
    make_settings: Callable[..., Settings], scale: str
) -> None:
    settings = make_settings(scale=scale)
    catalog = open_catalog(settings)

    for day in range(4):
        simulate(settings, days=0 if day == 0 else 1)
        ingest(settings, [TICKETS], run_id=f"run-{day}")
        assert reconcile(settings, catalog, SOURCE, day) == 1

    manifest = read_manifest(settings.sources_dir / "truth").filter(pl.col("source") == SOURCE)
    tickets = rows_of(catalog, raw.SUPPORT_TICKETS.identifier_name)
    assert tickets.height == manifest["rows"].sum()
    assert tickets["ticket_id"].n_unique() == tickets.height
    assert tickets.columns == raw.SUPPORT_TICKETS.column_names


def test_tickets_keep_their_text_and_metadata_as_they_arrived(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(scale="tiny")
    simulate(settings)

    ingest(settings, [TICKETS])

    tickets = rows_of(open_catalog(settings), raw.SUPPORT_TICKETS.identifier_name)
    assert tickets["created_at"].str.contains(r"^2026-01-01T\d\d:\d\d:\d\dZ$").all()
    assert set(tickets["channel"]) <= {"email", "chat", "phone", "web"}
    assert tickets.select(TICKET_COLUMNS[:5]).null_count().sum_horizontal().item() == 0
    assert tickets["_source"].unique().to_list() == [SOURCE]
    assert tickets["_source_file"].unique().to_list() == ["tickets/tickets_20260101.jsonl"]
    # A multi-line email body is one value, not several records.
    assert tickets["body"].str.contains("\n").any()


def test_rerunning_the_ticket_scan_adds_nothing(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(scale="tiny")
    simulate(settings, days=1)
    ingest(settings, [TICKETS])
    catalog = open_catalog(settings)
    before = snapshot_ids(catalog, TABLES)

    [scan] = ingest(settings, [TICKETS], run_id="again")

    assert scan.files == []
    assert scan.writes == []
    assert snapshot_ids(catalog, TABLES) == before
    assert ledger(catalog).height == 2


def test_a_broken_ticket_file_is_quarantined_and_the_others_land(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(scale="tiny")
    simulate(settings)
    landing = open_landing(settings)
    landing.put("tickets/tickets_20260101_late.jsonl", b'{"ticket_id": "TCK-9"}\n{"ticket_id": ')

    [scan] = ingest(settings, [TICKETS])

    assert {e.landing_key: e.status for e in scan.files} == {
        "tickets/tickets_20260101.jsonl": LANDED,
        "tickets/tickets_20260101_late.jsonl": QUARANTINED,
    }
    assert scan.quarantined[0].reason == (
        "invalid JSON on line 2: Expecting value: line 1 column 15 (char 14)"
    )
    assert landing.list(QUARANTINE_PREFIX) == ["quarantine/tickets/tickets_20260101_late.jsonl"]
    assert reconcile(settings, open_catalog(settings), SOURCE, 0) == 1
