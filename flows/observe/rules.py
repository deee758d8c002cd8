"""The seed's alert rules (section 1.2.5), evaluated on every run.

| rule | subject | raised while | resolved when |
|---|---|---|---|
| `step_failed` | the step | the step's last run failed | it completes in a later run |
| `replication_lag` | the feed | source data waits longer than the feed's tier SLA | captured |
| `missing_partition` | the feed | a published daily file never landed (blocks models) | it lands |
| `schema_drift` | the feed | schema changes no contract accepted (pauses the feed) | accepted |
| `cost` | `bytes_written` / `bytes_scanned` | a run's total is over its budget | a run is under |

Each rule maps every subject it watches to the alert's detail while the condition holds,
or None when it does not (`settle`). The detail names what persists (the failing error,
the oldest waiting publication, the missing files, the budget), not a figure that moves
every run, so one condition stays one alert until it clears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.alerts import Alert, open_alerts, raise_alert, resolve_alerts
from catalog.contracts.drift import SCHEMA_DRIFT, pending_changes
from flows.observe.freshness import FEEDS
from flows.observe.steps import StepMark
from flows.quality.sources import FILE_FEEDS

STEP_FAILED = "step_failed"
REPLICATION_LAG = "replication_lag"
MISSING_PARTITION = "missing_partition"
COST = "cost"
RULES = (STEP_FAILED, REPLICATION_LAG, MISSING_PARTITION, SCHEMA_DRIFT, COST)

Conditions = Mapping[str, str | None]


def settle(catalog: Catalog, rule: str, conditions: Conditions, *, run_id: str) -> None:
    """Raise `rule`'s alert for each subject whose condition holds (unless already open with
    the same detail) and resolve the open alerts of the others, or with another detail."""
    still_open = open_alerts(catalog, rule)
    for subject, detail in conditions.items():
        stale = still_open.filter(pl.col("subject") == subject)
        if detail is not None:
            stale = stale.filter(pl.col("detail") != detail)
        if stale.height:
            resolve_alerts(catalog, rule, subject, run_id=run_id)
        if detail is not None:
            raise_alert(catalog, Alert(rule, subject, detail), run_id=run_id)


def failed_steps(marks: Sequence[StepMark]) -> dict[str, str | None]:
    """Each step the run reached: its error if it failed, else None."""
    return {m.step: m.error for m in marks}


def lagging_feeds(freshness: pl.DataFrame) -> dict[str, str | None]:
    """Feeds whose oldest uncaptured data has waited longer than their tier's SLA."""
    conditions: dict[str, str | None] = {}
    for row in freshness.iter_rows(named=True):
        lag = row["replication_lag_s"]
        if lag <= row["sla_minutes"] * 60:
            conditions[row["feed"]] = None
            continue
        since: datetime = row["measured_at"] - timedelta(seconds=lag)
        conditions[row["feed"]] = (
            f"source data published at {since:%Y-%m-%d %H:%M:%S} UTC not captured within "
            f"the tier {row['tier']} SLA of {row['sla_minutes']:g} min"
        )
    return conditions


def missing_partitions(missing: Mapping[str, Sequence[str]]) -> dict[str, str | None]:
    """Every file feed: the deliveries it lacks (its models are blocked), or None."""
    return {
        feed: ("; ".join(missing[feed]) + ": downstream models blocked")
        if feed in missing
        else None
        for feed in FILE_FEEDS
    }


def drifted_feeds(catalog: Catalog) -> dict[str, str | None]:
    """Every feed: its unaccepted schema changes as staging words them, or None."""
    conditions: dict[str, str | None] = {}
    for feed in FEEDS:
        changes = pending_changes(catalog, feed)
        conditions[feed] = "; ".join(str(c) for c in changes) if changes else None
    return conditions


def over_budget(steps: pl.DataFrame, settings: Settings) -> dict[str, str | None]:
    """The run's bytes written and scanned against their budgets."""
    budgets = {
        "bytes_written": settings.alerts.max_bytes_written,
        "bytes_scanned": settings.alerts.max_bytes_scanned,
    }
    conditions: dict[str, str | None] = {}
    for measure, budget in budgets.items():
        total = int(steps[measure].fill_null(0).sum())
        setting = f"C360_ALERTS__MAX_{measure.upper()}"
        conditions[measure] = (
            f"a run's {measure.replace('_', ' ')} over the budget of {budget:,} bytes ({setting})"
            if total > budget
            else None
        )
    return conditions
