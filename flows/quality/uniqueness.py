"""Uniqueness: staged rows whose identifier another staged row also has.

Rows and distinct identifiers are carried from run to run while the staging table only grows
(events, tickets): a run reads the identifiers added since and checks them against the
identifiers the table held before (that column alone). A table rewritten since (every run,
for a table staging replaces whole) is counted in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyiceberg.table import Table

from catalog.reader import appended_since, read_added
from flows.quality.results import (
    MAX_DUPLICATE_PCT,
    UNIQUENESS,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.running import carried
from flows.quality.tables import Lakehouse, current_id, frame, staged_for


def uniqueness(lake: Lakehouse, feed: str) -> DqResult:
    """Staged rows whose identifier another staged row also has, as a share of all."""
    bound = Threshold("<=", MAX_DUPLICATE_PCT)
    staged = staged_for(feed)
    if staged is None:
        return not_applicable(feed, UNIQUENESS, bound, "not staged yet")
    identifier = staged.target.identifier
    if not identifier:
        return not_applicable(feed, UNIQUENESS, bound, "the staging table declares no identifier")
    table = lake.table(staged.target)
    prior = lake.prior(feed, UNIQUENESS)
    counts = _carried(table, identifier, prior)
    if counts is None:
        ids = lake.columns(staged.target, identifier)
        rows, distinct = ids.height, ids.n_unique()
    else:
        rows, distinct = counts
    if rows == 0:
        return not_applicable(feed, UNIQUENESS, bound, "the staging table is empty")
    running = {
        "staged": current_id(table),
        "rows": rows,
        "distinct": distinct,
        **carried(prior if counts else None),
    }
    duplicates = rows - distinct
    key = ", ".join(identifier)
    detail = f"{duplicates:,} of {rows:,} staged rows repeat an earlier row's {key}"
    return measured(feed, UNIQUENESS, bound, percent(duplicates, rows), detail, running)


def _carried(
    table: Table, identifier: Sequence[str], prior: Mapping[str, Any] | None
) -> tuple[int, int] | None:
    """Rows and distinct identifiers, carried from `prior` with the rows added since; None
    when the table was rewritten since."""
    if prior is None or prior["staged"] is None:
        return None
    since = appended_since(table, prior["staged"])
    if since is None:
        return None
    rows, distinct = int(prior["rows"]), int(prior["distinct"])
    added = read_added(table, since, columns=identifier)
    if added.is_empty():
        return rows, distinct
    fresh = added.unique()
    before = frame(table, columns=identifier, snapshot_id=prior["staged"])
    seen = before.join(fresh, on=list(identifier), how="semi", nulls_equal=True).unique()
    return rows + added.height, distinct + fresh.height - seen.height
