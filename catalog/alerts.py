"""Alerts in `ops.alerts`: raised once while a condition persists, resolved when it clears,
and routed to the configured channels (the log always, a JSON-lines file, a webhook)."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.reader import equals, read_rows
from catalog.tables import ops
from catalog.writer import content_batch_id, write

RAISED, RESOLVED = "raised", "resolved"
LOG = logging.getLogger("c360.alerts")


@dataclass(frozen=True)
class Alert:
    rule: str
    subject: str
    detail: str

    @property
    def alert_id(self) -> str:
        """Stable for one condition: the rule, what it concerns and what it found."""
        text = f"{self.rule}\0{self.subject}\0{self.detail}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_alerts(catalog: Catalog, rule: str | None = None) -> pl.DataFrame:
    """Alerts whose latest row is `raised` (optionally of one rule), newest first."""
    latest = read_rows(catalog, ops.ALERTS).sort("at").group_by("alert_id").last()
    if rule is not None:
        latest = latest.filter(pl.col("rule") == rule)
    return latest.filter(pl.col("status") == RAISED).sort("at", descending=True)


def _record(catalog: Catalog, alert: Alert, status: str, run_id: str | None) -> None:
    row = pl.DataFrame(
        {
            "alert_id": [alert.alert_id],
            "rule": alert.rule,
            "subject": alert.subject,
            "status": status,
            "detail": alert.detail,
            "run_id": run_id,
            "at": datetime.now(UTC),
        }
    )
    batch = content_batch_id(ops.ALERTS.identifier_name, alert.alert_id, status, str(row["at"][0]))
    write(catalog, ops.ALERTS, row, batch_id=batch, run_id=run_id or "manual")


def raise_alert(catalog: Catalog, alert: Alert, *, run_id: str | None) -> bool:
    """Record `alert` unless it is already open; True when it was recorded now."""
    if alert.alert_id in open_alerts(catalog)["alert_id"].to_list():
        return False
    _record(catalog, alert, RAISED, run_id)
    return True


def resolve_alerts(catalog: Catalog, rule: str, subject: str, *, run_id: str | None) -> int:
    """Resolve every open alert of `rule` about `subject`; the number resolved."""
    still = open_alerts(catalog, rule).filter(pl.col("subject") == subject)
    for row in still.iter_rows(named=True):
        _record(catalog, Alert(rule, subject, row["detail"]), RESOLVED, run_id)
    return still.height


def recorded_by(catalog: Catalog, run_id: str) -> pl.DataFrame:
    """The alert rows (raised or resolved) `run_id` recorded, oldest first."""
    return read_rows(catalog, ops.ALERTS, equals("run_id", run_id)).sort("at")


def route(settings: Settings, alerts: pl.DataFrame) -> int:
    """Send each alert row to every channel: the log, the JSON-lines file and, when
    `settings.alerts.webhook_url` is set, the webhook (one JSON POST per alert). A channel
    that fails is logged, never raised: alerting must not fail the run it reports on.

    Returns:
        How many alerts the webhook accepted (0 without one).
    """
    if alerts.is_empty():
        return 0
    documents = [{**row, "at": row["at"].isoformat()} for row in alerts.iter_rows(named=True)]
    for doc in documents:
        LOG.warning(
            "alert %s: %s %s: %s", doc["status"], doc["rule"], doc["subject"], doc["detail"]
        )
    sink = settings.alerts_jsonl
    sink.parent.mkdir(parents=True, exist_ok=True)
    with sink.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(doc, sort_keys=True) + "\n" for doc in documents)
    url = settings.alerts.webhook_url
    return (
        sum(_post(url, doc, settings.alerts.webhook_timeout_s) for doc in documents) if url else 0
    )


def _post(url: str, document: dict[str, object], timeout_s: float) -> bool:
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError) as exc:
        LOG.warning("alert webhook %s failed: %s", url, exc)
        return False
