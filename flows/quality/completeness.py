"""Completeness: the rows of a feed present in staging, as a share of what its source holds.

Matched by id where the source names its ids, else by count (the staging table's from its
metadata). A database's keys are read whole every run: a source says not which rows it
deleted. The ids a landing source emitted (the truth's records, a file a day) are carried
from run to run instead: the last run's staged ids, less those it found extra, plus those
it found missing, are the ids emitted up to then; only the days emitted since are read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from catalog.contracts import Contract
from catalog.reader import row_count
from flows.ingest_files import LandingFeed
from flows.quality.results import (
    COMPLETENESS,
    DEFAULT_COMPLETENESS_PCT,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.running import carried
from flows.quality.sources import (
    FILE_FEEDS,
    SNAPSHOT_FILE_FEEDS,
    Sources,
    emitted_count,
    emitted_ids,
    source_count,
)
from flows.quality.tables import Lakehouse, current_id, frame, staged_for
from flows.stage import Staged

# Beyond this many ids missing from staging or extra to it, a run carries nothing on (the
# next one reads the truth's every day again): the figures would outweigh what they save.
MAX_CARRIED_IDS = 1_000


def completeness(
    lake: Lakehouse, sources: Sources, feed: str, contract: Contract | None
) -> DqResult:
    """Rows of `feed` present in staging, as a share of the rows its source holds."""
    pct = contract.expectations.slo_completeness_pct if contract else DEFAULT_COMPLETENESS_PCT
    bound = Threshold(">=", pct)
    staged = staged_for(feed)
    if staged is None:
        return not_applicable(feed, COMPLETENESS, bound, "not staged yet")
    identifier = staged.target.identifier
    landing = FILE_FEEDS.get(feed)
    # A landing source whose truth names the ids it emitted, matched with staging's by id.
    truth = (
        landing
        if landing and landing.name not in SNAPSHOT_FILE_FEEDS and len(identifier) == 1
        else None
    )
    prior = lake.prior(feed, COMPLETENESS)
    kept = _carried_ids(lake, sources, truth, staged, prior) if truth else None
    source = (
        emitted_count(truth, kept) if truth and kept is not None else source_count(sources, feed)
    )
    if source.rows == 0:
        return not_applicable(feed, COMPLETENESS, bound, f"the source has no rows ({source.what})")
    if source.keys is None or len(identifier) != 1:
        rows = row_count(lake.table(staged.target))
        present = min(rows, source.rows)
        detail = f"{rows:,} staged rows vs {source.rows:,} {source.what}"
        return measured(feed, COMPLETENESS, bound, percent(present, source.rows), detail)
    staged_ids = lake.columns(staged.target, identifier)[identifier[0]].cast(pl.String)
    present = int(source.keys.is_in(staged_ids.implode()).sum())
    detail = f"{present:,} of {source.rows:,} {source.what} staged"
    extra = int((~staged_ids.is_in(source.keys.implode())).sum())
    if extra:
        detail += f"; {extra:,} staged rows the source no longer has"
    carry_from = prior if kept is not None else None
    running = (
        _running(lake, sources, staged, source.keys, staged_ids, carry_from) if truth else None
    )
    return measured(feed, COMPLETENESS, bound, percent(present, source.rows), detail, running)


def _running(
    lake: Lakehouse,
    sources: Sources,
    staged: Staged,
    emitted: pl.Series,
    staged_ids: pl.Series,
    prior: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """What the next run rebuilds the emitted ids from: the truth's days read, the staging
    snapshot, and the ids emitted but not staged and staged but not emitted."""
    missing = emitted.filter(~emitted.is_in(staged_ids.implode()))
    present = staged_ids.drop_nulls().unique()
    extra = present.filter(~present.is_in(emitted.implode()))
    if missing.len() + extra.len() > MAX_CARRIED_IDS:
        return None
    files = sources.record_files
    return {
        "staged": current_id(lake.table(staged.target)),
        "days": _fingerprint(files),
        "last": files[-1].name if files else None,
        "missing": sorted(missing.to_list()),
        "extra": sorted(extra.to_list()),
        **carried(prior),
    }


def _carried_ids(
    lake: Lakehouse,
    sources: Sources,
    landing: LandingFeed,
    staged: Staged,
    prior: Mapping[str, Any] | None,
) -> pl.Series | None:
    """The distinct ids the source emitted, rebuilt from the last run's figures and the days
    emitted since; None when a day read then changed or its staging snapshot is gone."""
    if prior is None:
        return None
    last = prior["last"]
    read = [f for f in sources.record_files if last is not None and f.name <= last]
    table = lake.table(staged.target)
    before = prior["staged"]
    if _fingerprint(read) != prior["days"] or (
        before is not None and table.metadata.snapshot_by_id(before) is None
    ):
        return None
    key = staged.target.identifier[0]
    then = (
        frame(table, columns=(key,), snapshot_id=before)[key].cast(pl.String).drop_nulls()
        if before is not None
        else pl.Series(key, [], pl.String)
    )
    extra = pl.Series(prior["extra"], dtype=pl.String)
    since = [f for f in sources.record_files if f not in read]
    return pl.concat(
        [
            pl.Series(key, prior["missing"], pl.String),
            then.filter(~then.is_in(extra.implode())),
            emitted_ids(sources, landing, since).rename(key),
        ]
    ).unique()


def _fingerprint(files: Sequence[Path]) -> str:
    """A digest of `files`' names, sizes and modification times: a day emitted again, or
    one added among those read, changes it."""
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()
