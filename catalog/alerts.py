"""Alerts in `ops.alerts`: raised once while a condition persists, resolved when it clears."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from pyiceberg.catalog import Catalog

from catalog.reader import read_rows
from catalog.tables import ops
from catalog.writer import content_batch_id, write

RAISED, RESOLVED = "raised", "resolved"


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
