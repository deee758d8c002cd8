"""Completeness: the rows of a feed present in staging, as a share of what its source holds."""

from __future__ import annotations

import polars as pl
from pyiceberg.catalog import Catalog

from catalog.contracts import Contract
from catalog.registry import ensure_table
from flows.quality.results import (
    COMPLETENESS,
    DEFAULT_COMPLETENESS_PCT,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.sources import Sources, source_count
from flows.quality.tables import frame, staged_for


def completeness(
    catalog: Catalog, sources: Sources, feed: str, contract: Contract | None
) -> DqResult:
    """Rows of `feed` present in staging, as a share of the rows its source holds: matched
    by id where the source names its ids, else by count."""
    pct = contract.expectations.slo_completeness_pct if contract else DEFAULT_COMPLETENESS_PCT
    bound = Threshold(">=", pct)
    staged = staged_for(feed)
    if staged is None:
        return not_applicable(feed, COMPLETENESS, bound, "not staged yet")
    source = source_count(sources, feed)
    if source.rows == 0:
        return not_applicable(feed, COMPLETENESS, bound, f"the source has no rows ({source.what})")
    identifier = staged.target.identifier
    ids = frame(ensure_table(catalog, staged.target), columns=identifier)
    if source.keys is None or len(identifier) != 1:
        present = min(ids.height, source.rows)
        detail = f"{ids.height:,} staged rows vs {source.rows:,} {source.what}"
        return measured(feed, COMPLETENESS, bound, percent(present, source.rows), detail)
    staged_ids = ids[identifier[0]].cast(pl.String)
    present = int(source.keys.is_in(staged_ids.implode()).sum())
    detail = f"{present:,} of {source.rows:,} {source.what} staged"
    extra = int((~staged_ids.is_in(source.keys.implode())).sum())
    if extra:
        detail += f"; {extra:,} staged rows the source no longer has"
    return measured(feed, COMPLETENESS, bound, percent(present, source.rows), detail)
