"""Each alert rule, triggered and then cleared on a real (SQLite) lakehouse: the alert is
raised once in `ops.alerts` while its condition persists, resolved when it clears, and
every change reaches the log, the JSON-lines sink and a webhook on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.alerts import RAISED, RESOLVED, open_alerts, recorded_by
from catalog.contracts.drift import SCHEMA_DRIFT, pause_if_drifted
from catalog.factory import open_catalog
from catalog.reader import equals, read_rows
from catalog.tables import ops
from catalog.writer import RUN_ID, write
from flows.model import excluding
from flows.observe.freshness import FEEDS
from flows.observe.record import check_partitions, observe
from flows.observe.rules import COST, MISSING_PARTITION, REPLICATION_LAG, STEP_FAILED
from flows.observe.steps import RunSteps, StepMark
from simulator.truth import MANIFEST, MANIFEST_SCHEMA
from simulator.world import record_published


class Webhook:
    """An HTTP receiver on 127.0.0.1 that keeps every JSON document POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def of_run(self, run_id: str) -> list[tuple[str, str, str]]:
        return [
            (d["status"], d["rule"], d["subject"]) for d in self.received if d["run_id"] == run_id
        ]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Webhook]:
    """One receiver for the module's tests."""
    running = Webhook()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def webhook(receiver: Webhook) -> Webhook:
    """The receiver, holding only what this test sends it."""
    receiver.received.clear()
    return receiver


@pytest.fixture
def alerting(make_settings: Callable[..., Settings], webhook: Webhook) -> Settings:
    """Settings under a fresh home whose alerts also go to the test's webhook."""
    return make_settings(alerts={"webhook_url": webhook.url})


def sink(settings: Settings, run_id: str) -> list[tuple[str, str, str]]:
    """What the JSON-lines sink received from `run_id`."""
    docs = [json.loads(line) for line in settings.alerts_jsonl.read_text().splitlines()]
    return [(d["status"], d["rule"], d["subject"]) for d in docs if d["run_id"] == run_id]


def routed(settings: Settings, webhook: Webhook, run_id: str) -> list[tuple[str, str, str]]:
    """What `run_id` routed, checked to be the same on both channels and in `ops.alerts`."""
    recorded = recorded_by(open_catalog(settings), run_id).select("status", "rule", "subject")
    assert sink(settings, run_id) == webhook.of_run(run_id) == recorded.rows()
    return recorded.rows()


def completed(*steps: str, at: datetime | None = None) -> list[StepMark]:
    start = at or datetime.now(UTC)
    return [StepMark(s, start, start + timedelta(seconds=1)) for s in steps]


def test_a_failed_step_alerts_once_and_clears_when_it_completes(
    alerting: Settings, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = open_catalog(alerting)
    for run_id in ("run-1", "run-2"):  # the same failure twice: one alert
        steps = RunSteps(partial(observe, alerting, run_id))
        with (
            caplog.at_level(logging.WARNING, "c360.alerts"),
            pytest.raises(ConnectionError),
            steps.step("ingest"),
        ):
            raise ConnectionError("crm database refused the connection")

    [alert] = open_alerts(catalog, STEP_FAILED).rows(named=True)
    assert (alert["subject"], alert["detail"]) == (
        "ingest",
        "ConnectionError: crm database refused the connection",
    )
    assert routed(alerting, webhook, "run-1") == [(RAISED, STEP_FAILED, "ingest")]
    assert routed(alerting, webhook, "run-2") == []
    assert "alert raised: step_failed ingest" in caplog.text
    failed = read_rows(catalog, ops.RUN_STEPS, equals("run_id", "run-1"))
    assert failed.select("step", "status").rows() == [("ingest", "failed")]

    observe(alerting, "run-3", completed("simulate", "ingest"))

    assert open_alerts(catalog, STEP_FAILED).is_empty()
    assert routed(alerting, webhook, "run-3") == [(RESOLVED, STEP_FAILED, "ingest")]


def test_replication_lag_over_a_tier_sla_alerts_until_the_data_is_captured(
    alerting: Settings, webhook: Webhook
) -> None:
    catalog = open_catalog(alerting)
    now = datetime.now(UTC)
    # A day published 30 minutes ago and not captured: over the stream's 5 minutes, within
    # the 60 minutes of the databases and file drops.
    record_published(alerting, 1, now - timedelta(minutes=30))

    first = observe(alerting, "run-1", completed("simulate", at=now - timedelta(hours=1)), now)
    observe(alerting, "run-2", completed("simulate", at=now - timedelta(hours=1)), now)

    lags = dict(first.freshness.select("feed", "replication_lag_s").rows())
    assert lags == dict.fromkeys(FEEDS, pytest.approx(30 * 60))
    assert routed(alerting, webhook, "run-1") == [(RAISED, REPLICATION_LAG, "clickstream_events")]
    assert routed(alerting, webhook, "run-2") == []  # still lagging: no second alert
    [detail] = open_alerts(catalog, REPLICATION_LAG)["detail"]
    assert "within the tier 0 SLA of 5 min" in detail

    # An hour on, still not captured: every feed is over its SLA now.
    later = now + timedelta(hours=1)
    observe(alerting, "run-3", completed("simulate", at=now), later)
    assert sorted(open_alerts(catalog, REPLICATION_LAG)["subject"]) == sorted(FEEDS)

    # A capture that started after the publication clears them all.
    observe(alerting, "run-4", completed("ingest", at=later), later + timedelta(minutes=1))
    assert open_alerts(catalog, REPLICATION_LAG).is_empty()
    assert {s for s, _, _ in routed(alerting, webhook, "run-4")} == {RESOLVED}
    assert len(routed(alerting, webhook, "run-4")) == len(FEEDS)


def _write_manifest(settings: Settings, day: int, datasets: list[str]) -> None:
    folder = settings.sources_dir / "truth" / MANIFEST
    folder.mkdir(parents=True, exist_ok=True)
    rows = pl.DataFrame(
        {
            "day": day,
            "source": "vendor_files",
            "dataset": datasets,
            "rows": 10,
            "deletes": 0,
            "checksum": "x",
        },
        schema=MANIFEST_SCHEMA,
    )
    rows.write_parquet(folder / f"day={day:04d}.parquet")


def _land(catalog: Catalog, feed: str, key: str) -> None:
    row = pl.DataFrame(
        {
            "landing_key": [key],
            "file_size": 100,
            "file_checksum": "x",
            "feed": feed,
            "status": "landed",
            "processed_at": datetime.now(UTC),
        }
    )
    write(catalog, ops.INGEST_LEDGER, row, batch_id=f"land:{key}", run_id="test")


def test_a_missing_daily_partition_blocks_the_feeds_models_until_it_lands(
    alerting: Settings, webhook: Webhook
) -> None:
    catalog = open_catalog(alerting)
    day_1 = ["loyalty/loyalty_members_20260102.json", "tickets/tickets_20260102.jsonl"]
    _write_manifest(alerting, 1, day_1)
    _land(catalog, "tickets", day_1[1])  # loyalty's drop never arrived

    blocked = check_partitions(alerting, "run-1")
    observe(alerting, "run-1", completed("ingest"))

    assert blocked == ["staging.loyalty_members"]
    assert "source:lakehouse.loyalty_members+" in excluding(blocked)
    [alert] = open_alerts(catalog, MISSING_PARTITION).rows(named=True)
    assert alert["subject"] == "vendor_loyalty_members"
    assert alert["detail"] == f"day 1: {day_1[0]}: downstream models blocked"
    assert routed(alerting, webhook, "run-1") == [
        (RAISED, MISSING_PARTITION, "vendor_loyalty_members")
    ]
    assert check_partitions(alerting, "run-2") == blocked  # still missing: no new alert
    assert recorded_by(catalog, "run-2").is_empty()

    _land(catalog, "loyalty", day_1[0])
    assert check_partitions(alerting, "run-3") == []
    observe(alerting, "run-3", completed("ingest"))

    assert open_alerts(catalog, MISSING_PARTITION).is_empty()
    assert routed(alerting, webhook, "run-3") == [
        (RESOLVED, MISSING_PARTITION, "vendor_loyalty_members")
    ]


def test_schema_drift_alerts_once_while_the_feed_is_paused_and_clears_when_accepted(
    alerting: Settings, webhook: Webhook
) -> None:
    catalog = open_catalog(alerting)
    detected = datetime.now(UTC)
    change = pl.DataFrame(
        {
            "table_name": ["raw.crm_customers"],
            "column_name": "loyalty_tier",
            "change": "added",
            "detected_at": detected,
            "batch_id": "b1",
        }
    )
    write(catalog, ops.SCHEMA_CHANGES, change, batch_id="drift", run_id="test")

    # Staging pauses the feed and raises the alert; the run's rules find it open.
    assert pause_if_drifted(catalog, "crm_customers", run_id="run-1")
    observe(alerting, "run-1", completed("stage"))
    observe(alerting, "run-2", completed("stage"))

    [alert] = open_alerts(catalog, SCHEMA_DRIFT).rows(named=True)
    assert (alert["subject"], alert["detail"]) == ("crm_customers", "loyalty_tier added")
    assert routed(alerting, webhook, "run-1") == [(RAISED, SCHEMA_DRIFT, "crm_customers")]
    assert routed(alerting, webhook, "run-2") == []

    acceptance = pl.DataFrame(
        {
            "feed": ["crm_customers"],
            "contract_id": "customer360_customer_v2",
            "version": 2,
            "accepted_through": detected,
            "changes": "loyalty_tier added",
            "accepted_at": datetime.now(UTC),
        }
    )
    write(catalog, ops.CONTRACT_ACCEPTANCES, acceptance, batch_id="accept", run_id="test")
    observe(alerting, "run-3", completed("stage"))

    assert open_alerts(catalog, SCHEMA_DRIFT).is_empty()
    assert routed(alerting, webhook, "run-3") == [(RESOLVED, SCHEMA_DRIFT, "crm_customers")]


def test_a_run_over_its_byte_budget_alerts_and_clears_on_a_run_under_it(
    make_settings: Callable[..., Settings], webhook: Webhook
) -> None:
    settings = make_settings(alerts={"webhook_url": webhook.url, "max_bytes_written": 100})
    catalog = open_catalog(settings)

    for run_id in ("run-1", "run-2"):
        steps = RunSteps(on_failure=print)
        with steps.step("ingest"):
            row = pl.DataFrame(
                {
                    "run_id": [run_id],
                    "table_name": "raw.crm_customers",
                    "rows_written": 3,
                    "batch_id": "b",
                    "written_at": datetime.now(UTC),
                }
            )
            write(catalog, ops.TABLE_WRITES, row, batch_id=run_id, run_id=run_id)
        observe(settings, run_id, steps.marks)

    [added] = [
        int(s.summary.get("added-files-size") or 0)
        for s in catalog.load_table("ops.table_writes").snapshots()
        if s.summary is not None and s.summary.get(RUN_ID) == "run-1"
    ]
    step = read_rows(catalog, ops.RUN_STEPS, equals("run_id", "run-1")).row(0, named=True)
    assert (step["step"], step["rows_out"], step["files_written"], step["snapshots_created"]) == (
        "ingest",
        1,
        1,
        1,
    )
    assert step["bytes_written"] == added > 100
    [alert] = open_alerts(catalog, COST).rows(named=True)
    assert alert["subject"] == "bytes_written"
    assert "C360_ALERTS__MAX_BYTES_WRITTEN" in alert["detail"]
    assert routed(settings, webhook, "run-1") == [(RAISED, COST, "bytes_written")]
    assert routed(settings, webhook, "run-2") == []

    observe(settings, "run-3", completed("ingest"))  # wrote nothing

    assert open_alerts(catalog, COST).is_empty()
    assert routed(settings, webhook, "run-3") == [(RESOLVED, COST, "bytes_written")]


def test_an_unreachable_webhook_is_logged_and_does_not_fail_the_run(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        alerts={"webhook_url": "http://127.0.0.1:9/alerts", "webhook_timeout_s": 2}
    )
    steps = RunSteps(lambda marks: observe(settings, "run-1", marks))

    with (
        caplog.at_level(logging.WARNING, "c360.alerts"),
        pytest.raises(RuntimeError),
        steps.step("model"),
    ):
        raise RuntimeError("dbt test failed")

    assert sink(settings, "run-1") == [(RAISED, STEP_FAILED, "model")]
    assert "alert webhook http://127.0.0.1:9/alerts failed" in caplog.text
