"""Accuracy: a feed's agreement with its source.

A database feed's staged rows are compared with the source's on a deterministic sample of
keys, column by column as canonical text; a file's raw rows are checksummed as the simulator
checksummed what it wrote (`file_accuracy`); the stream keeps no state to ask, so staged events
are compared with the JSON they arrived as (`stream_accuracy`).

A database table changes anywhere (updates, deletes), so its sampled rows are compared with
the source's afresh every run. Only drawing the sample is carried from run to run: the keys
whose sha256 sorts first, plus a margin for deletes, updated by hashing just the keys that
are new since the last run's staging snapshot (`sampling.carried`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
import sqlalchemy as sa
from pyiceberg.table import Table
from sqlalchemy.engine import Engine

from flows.ingest_db import ReplicatedTable, rows_query
from flows.quality.agreement import row_digest
from flows.quality.file_accuracy import file_accuracy
from flows.quality.results import (
    ACCURACY,
    MIN_ACCURACY_PCT,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.running import carried
from flows.quality.sampling import SAMPLE_SIZE, Lowest, lowest
from flows.quality.sampling import carried as carried_keys
from flows.quality.sources import DATABASE_FEEDS, FILE_FEEDS, STREAM_FEED, Sources
from flows.quality.stream_accuracy import stream_accuracy
from flows.quality.tables import Lakehouse, current_id, frame, staged_for
from flows.stage import Staged

# Columns staging rewrites (normalised contacts): they cannot agree with the source's text.
REWRITTEN = frozenset({"first_name", "last_name", "email", "phone", "street", "city"})
# Keys kept beyond the sample, so that a few deleted sampled rows need no full redraw.
MARGIN = 100


def accuracy(lake: Lakehouse, sources: Sources, feed: str) -> DqResult:
    """Agreement with the source: sampled rows (databases), checksums (files), payloads
    (the stream)."""
    bound = Threshold(">=", MIN_ACCURACY_PCT)
    if feed in FILE_FEEDS:
        return file_accuracy(lake, sources, feed, FILE_FEEDS[feed], bound)
    staged = staged_for(feed)
    if staged is None:
        return not_applicable(feed, ACCURACY, bound, "not staged yet")
    if feed == STREAM_FEED:
        return stream_accuracy(lake, staged, bound)
    database, table = DATABASE_FEEDS[feed]
    return _database_accuracy(lake, sources.database(database), table, staged, bound)


def _database_accuracy(
    lake: Lakehouse, engine: Engine, table: ReplicatedTable, staged: Staged, bound: Threshold
) -> DqResult:
    feed = staged.feed
    target = lake.table(staged.target)
    keys = lake.columns(staged.target, (table.key,))[table.key].cast(pl.String)
    prior = lake.prior(feed, ACCURACY)
    kept = _carried_draw(target, table.key, keys, prior)
    drawn = kept or lowest(keys, SAMPLE_SIZE + MARGIN)
    running = {
        "staged": current_id(target),
        "lowest": drawn.to_json(),
        **carried(prior if kept else None),
    }
    sample = drawn.sample()
    if not sample:
        return not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    # Filtered here: a pyiceberg filter of `SAMPLE_SIZE` keys costs more to bind than the
    # (small) table costs to read.
    rows = lake.rows(staged.target).filter(pl.col(table.key).cast(pl.String).is_in(sample))
    ours = {str(r[table.key]): r for r in rows.to_arrow().to_pylist()}
    theirs = _source_rows(engine, table, sample)
    source_columns = next(iter(theirs.values()), {}).keys()
    columns = sorted((set(target.schema().column_names) & set(source_columns)) - REWRITTEN)
    agreeing = sum(
        k in theirs and row_digest(ours[k], columns) == row_digest(theirs[k], columns)
        for k in sample
    )
    detail = (
        f"{agreeing:,} of {len(sample):,} sampled rows agree with {table.dataset} on "
        f"{len(columns)} columns ({', '.join(columns)})"
    )
    gone = sum(k not in theirs for k in sample)
    if gone:
        detail += f"; {gone:,} sampled rows are no longer in the source"
    return measured(feed, ACCURACY, bound, percent(agreeing, len(sample)), detail, running)


def _carried_draw(
    target: Table, key: str, keys: pl.Series, prior: Mapping[str, Any] | None
) -> Lowest | None:
    """The lowest-hashing `keys` carried from the last run's draw, hashing only the keys
    staged since its snapshot; None when that snapshot is gone or too many drawn keys were
    deleted since."""
    if prior is None or prior["staged"] is None:
        return None
    before = prior["staged"]
    if target.metadata.snapshot_by_id(before) is None:
        return None
    old = frame(target, columns=(key,), snapshot_id=before)[key].cast(pl.String)
    drawn = Lowest.from_json(prior["lowest"])
    stored = pl.Series(drawn.keys, dtype=pl.String)
    return carried_keys(
        drawn,
        keys.filter(~keys.is_in(old.implode())),
        set(stored.filter(~stored.is_in(keys.implode()))),
        keep=SAMPLE_SIZE + MARGIN,
    )


def _source_rows(
    engine: Engine, table: ReplicatedTable, keys: list[str]
) -> dict[str, dict[str, Any]]:
    """The source's rows of `keys`, read as the raw table types them, by key."""
    with engine.connect() as conn:
        live = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
        query = rows_query(live, table.raw).where(live.c[table.key].in_(keys))
        return {str(r[table.key]): dict(r) for r in conn.execute(query).mappings()}
