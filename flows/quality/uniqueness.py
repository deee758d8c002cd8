"""Uniqueness: staged rows whose identifier another staged row also has."""

from __future__ import annotations

from pyiceberg.catalog import Catalog

from catalog.registry import ensure_table
from flows.quality.results import (
    MAX_DUPLICATE_PCT,
    UNIQUENESS,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.tables import frame, staged_for


def uniqueness(catalog: Catalog, feed: str) -> DqResult:
    """Staged rows whose identifier another staged row also has, as a share of all."""
    bound = Threshold("<=", MAX_DUPLICATE_PCT)
    staged = staged_for(feed)
    if staged is None:
        return not_applicable(feed, UNIQUENESS, bound, "not staged yet")
    identifier = staged.target.identifier
    if not identifier:
        return not_applicable(feed, UNIQUENESS, bound, "the staging table declares no identifier")
    ids = frame(ensure_table(catalog, staged.target), columns=identifier)
    if ids.is_empty():
        return not_applicable(feed, UNIQUENESS, bound, "the staging table is empty")
    duplicates = ids.height - ids.n_unique()
    key = ", ".join(identifier)
    detail = f"{duplicates:,} of {ids.height:,} staged rows repeat an earlier row's {key}"
    return measured(feed, UNIQUENESS, bound, percent(duplicates, ids.height), detail)
