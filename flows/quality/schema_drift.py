"""Schema drift: a feed's schema changes that no contract version has accepted."""

from __future__ import annotations

from pyiceberg.catalog import Catalog

from catalog.contracts.drift import pending_changes
from flows.quality.results import SCHEMA_DRIFT, DqResult, Threshold, measured


def schema_drift(catalog: Catalog, feed: str) -> DqResult:
    """The feed's schema changes that no accepted contract version describes."""
    changes = pending_changes(catalog, feed)
    detail = "; ".join(str(c) for c in changes) or "no unaccepted schema change"
    return measured(feed, SCHEMA_DRIFT, Threshold("==", 0), float(len(changes)), detail)
