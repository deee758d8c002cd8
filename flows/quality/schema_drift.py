"""Schema drift: a feed's schema changes that no contract version has accepted."""

from __future__ import annotations

from catalog.contracts.drift import pending_changes
from catalog.tables import ops
from flows.quality.results import SCHEMA_DRIFT, DqResult, Threshold, measured
from flows.quality.tables import RAW_TABLES, Lakehouse


def schema_drift(lake: Lakehouse, feed: str) -> DqResult:
    """The feed's schema changes that no accepted contract version describes."""
    drifted = lake.columns(ops.SCHEMA_CHANGES, ("table_name",))["table_name"]
    # A feed with no change ever recorded has none pending: no need to ask about each.
    changes = (
        pending_changes(lake.catalog, feed) if RAW_TABLES[feed].identifier_name in drifted else []
    )
    detail = "; ".join(str(c) for c in changes) or "no unaccepted schema change"
    return measured(feed, SCHEMA_DRIFT, Threshold("==", 0), float(len(changes)), detail)
