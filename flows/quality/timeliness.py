"""Timeliness: rows of a run's raw batches captured within the SLO of becoming available.

A stream record becomes available when the stream accepted it; a database row or a file
when the simulator published its day (the publication log, `simulator.world.read_published`).
Only the batches' own files are read (those committed since the first of them), whatever
the table holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from catalog.contracts import Contract
from catalog.reader import appended_since, read_added
from catalog.tables import raw
from catalog.writer import BATCH_ID, RUN_ID
from flows.ingest_db import DELETE
from flows.quality.results import (
    MIN_TIMELY_PCT,
    TIMELINESS,
    DqResult,
    Threshold,
    measured,
    not_applicable,
    percent,
)
from flows.quality.sources import FILE_FEEDS, STREAM_FEED, Sources
from flows.quality.tables import RAW_TABLES, Lakehouse, frame, isin
from simulator.clock import day_date

# Order lines carry no commit time: they are written with their order, so they take its
# `ordered_at` (table, key in the line, time column in the parent).
PARENT_STAMPS = {raw.ORDERS_ORDER_ITEMS.name: (raw.ORDERS_ORDERS, "order_id", "ordered_at")}


def run_batches(table: Table, run_id: str) -> tuple[list[Snapshot], str]:
    """The commits of the batches `run_id` ingested into `table`, or of its last batch when
    it ingested none; and which of the two, in words."""
    batches = [
        s
        for s in table.snapshots()
        if s.summary is not None and BATCH_ID in s.summary.additional_properties
    ]
    mine = [s for s in batches if s.summary is not None and s.summary.get(RUN_ID) == run_id]
    if mine:
        return mine, f"ingested in run {run_id}"
    return ([batches[-1]], "of the last batch (none ingested in this run)") if batches else ([], "")


def batch_rows(table: Table, batches: Sequence[Snapshot]) -> pl.DataFrame:
    """The rows whose `_batch_id` is one of `batches`': read from the files committed from
    the first of them on when the table only grew since, else by scanning the table."""
    within = isin("_batch_id", [str(s.summary[BATCH_ID]) for s in batches if s.summary])
    since = appended_since(table, batches[0].parent_snapshot_id)
    if since is None:
        return frame(table, row_filter=within)
    return read_added(table, since, row_filter=within)


def timeliness(
    lake: Lakehouse, sources: Sources, feed: str, contract: Contract | None, *, run_id: str
) -> DqResult:
    """Rows of the run's raw batches captured within the SLO of becoming available."""
    bound = Threshold(">=", MIN_TIMELY_PCT)
    if contract is None:
        return not_applicable(feed, TIMELINESS, bound, "no contract states a timeliness SLO")
    table = lake.table(RAW_TABLES[feed])
    batches, which = run_batches(table, run_id)
    if not batches:
        return not_applicable(feed, TIMELINESS, bound, "nothing ingested yet")
    rows = batch_rows(table, batches)
    timed, untimed = available_times(lake, sources, feed, rows)
    if timed.is_empty():
        why = "; ".join(untimed)
        return not_applicable(feed, TIMELINESS, bound, f"{rows.height:,} rows {which}: {why}")
    minutes = contract.expectations.slo_timeliness_minutes
    lag = (timed["_ingested_at"] - timed["available_at"]).clip(lower_bound=timedelta(0))
    within = int((lag <= timedelta(minutes=minutes)).sum())
    worst = lag.max()
    assert isinstance(worst, timedelta)
    detail = "; ".join(
        [
            f"{within:,} of {timed.height:,} rows {which} captured within {minutes} min of "
            f"becoming available (worst lag {worst.total_seconds():,.1f} s)",
            *untimed,
        ]
    )
    return measured(feed, TIMELINESS, bound, percent(within, timed.height), detail)


def available_times(
    lake: Lakehouse, sources: Sources, feed: str, rows: pl.DataFrame
) -> tuple[pl.DataFrame, list[str]]:
    """`rows`' `_ingested_at` with `available_at`, when the source made each row available.

    Returns:
        The rows that time is known for, and what was left out and why (empty: nothing).
    """
    if feed == STREAM_FEED:
        return rows.select("_ingested_at", available_at="arrived_at"), []
    if feed in FILE_FEEDS:
        days = sources.manifest.select(_source_file="dataset", day="day")
        return _published(sources, rows.join(days, on="_source_file", how="left"))
    changes = rows.filter(pl.col("_cdc_operation") != DELETE)
    deletes = rows.height - changes.height
    stamped = _source_stamps(lake, feed, changes).with_columns(day=_day_of("stamp"))
    timed, untimed = _published(sources, stamped)
    if deletes:
        untimed.append(f"{deletes:,} deletes not timed (a source says not when it deleted)")
    return timed, untimed


def _source_stamps(lake: Lakehouse, feed: str, changes: pl.DataFrame) -> pl.DataFrame:
    """Database rows (no deletes) with the time the source committed them, `stamp`."""
    if feed not in PARENT_STAMPS:
        return changes.select("_ingested_at", stamp="_source_committed_at")
    parent, key, column = PARENT_STAMPS[feed]
    placed = (
        frame(lake.table(parent), columns=(key, column))
        .join(changes.select(key).unique(), on=key, how="semi")
        .group_by(key)
        .agg(pl.col(column).min().alias("stamp"))
    )
    return changes.join(placed, on=key, how="left").select("_ingested_at", "stamp")


def _day_of(column: str) -> pl.Expr:
    """The simulated day a source timestamp falls on; history before the start is day 0's."""
    days = (pl.col(column).dt.date() - pl.lit(day_date(0))).dt.total_days()
    return days.clip(lower_bound=0).cast(pl.Int32)


def _published(sources: Sources, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Rows with the simulated `day` they belong to, given the time it was published."""
    joined = rows.join(sources.published, on="day", how="left")
    timed = joined.filter(pl.col("published_at").is_not_null())
    untimed = []
    no_day = joined.filter(pl.col("day").is_null()).height
    if no_day:
        untimed.append(f"{no_day:,} rows not timed (no source day: not in the manifest)")
    unpublished = joined.filter(pl.col("day").is_not_null() & pl.col("published_at").is_null())
    if unpublished.height:
        days = ", ".join(str(d) for d in sorted(unpublished["day"].unique().to_list()))
        untimed.append(
            f"{unpublished.height:,} rows not timed (no publication time for day {days}: "
            "simulated before the publication log?)"
        )
    return timed.select("_ingested_at", available_at="published_at"), untimed
