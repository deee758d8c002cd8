"""Accuracy of the landed files: each file's rows in raw checksummed as the simulator
checksummed what it wrote (the truth manifest).

The figures are sums over the landed files the manifest knows, carried from run to run while
the raw table only grows (`Tally`): a run checksums the files its new raw rows belong to, and
reads all of a file's rows only when new rows claim a file that landed before. Anything
else (raw rewritten, a file landed before changed in the ledger or the manifest, raw rows
of no known file) checksums every file again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from pyiceberg.table import Table

from catalog.reader import appended_since, equals, read_added
from catalog.tables import ops
from catalog.writer import BATCH_ID
from flows.ingest_files import LANDED, LandingFeed, LedgerEntry
from flows.quality.results import ACCURACY, DqResult, Threshold, measured, not_applicable, percent
from flows.quality.running import carried
from flows.quality.sources import Sources
from flows.quality.tables import Lakehouse, current_id, frame
from simulator.emitters.landing import rows_checksum

SOURCE_FILE = "_source_file"


@dataclass(frozen=True)
class Tally:
    """Landed files (ledger entries) whose raw rows match the manifest's checksum, and their
    rows; the landing keys some entry of which does not match, with what they add to those
    two; and the raw rows that belong to no known file."""

    files: int
    rows: int
    odd: Mapping[str, tuple[int, int]]
    stray: int


def file_accuracy(
    lake: Lakehouse, sources: Sources, feed: str, landing: LandingFeed, bound: Threshold
) -> DqResult:
    """Rows in landed files whose raw rows match the checksum the manifest recorded."""
    files = _landed(lake, landing.name)
    if not files:
        return not_applicable(feed, ACCURACY, bound, "no file has landed yet")
    expected = sources.checksums
    known = [f for f in files if f.landing_key in expected]
    if not known:
        return not_applicable(
            feed, ACCURACY, bound, f"none of the {len(files)} landed files is in the manifest"
        )
    table = lake.table(landing.table)
    prior = lake.prior(feed, ACCURACY)
    kept = _carried(table, known, expected, prior)
    tally = kept or _full(table, known, expected)
    total = sum(f.rows or 0 for f in known)
    detail = (
        f"{tally.rows:,} of {total:,} rows in files whose checksum matches the manifest "
        f"({tally.files} of {len(known)} files)"
    )
    if len(known) < len(files):
        detail += f"; {len(files) - len(known)} landed files not in the manifest"
    running = {
        "arrived": current_id(table),
        "known": _known_digest(known, expected),
        "files": tally.files,
        "rows": tally.rows,
        "odd": {k: list(v) for k, v in tally.odd.items()},
        "stray": tally.stray,
        **carried(prior if kept else None),
    }
    value = percent(tally.rows, total) if total else 100.0
    return measured(feed, ACCURACY, bound, value, detail, running)


def _full(table: Table, known: Sequence[LedgerEntry], expected: Mapping[str, str]) -> Tally:
    """The tally over every raw row."""
    rows = frame(table)
    entries = _by_key(known)
    mine = rows.filter(pl.col(SOURCE_FILE).is_in(list(entries)))
    parts = {k: part for (k,), part in mine.partition_by(SOURCE_FILE, as_dict=True).items()}
    files = matched = 0
    odd = {}
    for key, of_key in entries.items():
        agreeing, agreeing_rows = _checked(parts.get(key, rows.clear()), of_key, expected[key])
        files, matched = files + agreeing, matched + agreeing_rows
        if agreeing < len(of_key):
            odd[key] = (agreeing, agreeing_rows)
    return Tally(files, matched, odd, rows.height - mine.height)


def _carried(
    table: Table,
    known: Sequence[LedgerEntry],
    expected: Mapping[str, str],
    prior: Mapping[str, Any] | None,
) -> Tally | None:
    """The last run's tally updated with the raw rows added since; None when raw was
    rewritten, a file known then changed, or raw held rows of no known file."""
    if prior is None or prior["stray"]:
        return None
    since = appended_since(table, prior["arrived"])
    if since is None:
        return None
    batches = {
        s.summary[BATCH_ID]
        for s in since
        if s.summary is not None and BATCH_ID in s.summary.additional_properties
    }
    old = [e for e in known if e.batch_id not in batches]
    if _known_digest(old, expected) != prior["known"]:
        return None
    entries, old_keys = _by_key(known), _by_key(old)
    added = read_added(table, since)
    mine = added.filter(pl.col(SOURCE_FILE).is_in(list(entries)))
    touched = set(mine[SOURCE_FILE]) | {e.landing_key for e in known if e.batch_id in batches}
    files, matched = int(prior["files"]), int(prior["rows"])
    odd = {k: (int(v[0]), int(v[1])) for k, v in prior["odd"].items()}
    for key in sorted(touched):
        new_rows = mine.filter(pl.col(SOURCE_FILE) == key)
        if key in old_keys:
            rows = frame(table, row_filter=equals(SOURCE_FILE, key))
            n = len(old_keys[key])
            before = odd.pop(key, (n, n * (rows.height - new_rows.height)))
        else:  # no row of it before: raw held none of an unknown file
            rows, before = new_rows, (0, 0)
        agreeing, agreeing_rows = _checked(rows, entries[key], expected[key])
        files, matched = files + agreeing - before[0], matched + agreeing_rows - before[1]
        if agreeing < len(entries[key]):
            odd[key] = (agreeing, agreeing_rows)
    return Tally(files, matched, odd, added.height - mine.height)


def _checked(rows: pl.DataFrame, entries: Sequence[LedgerEntry], checksum: str) -> tuple[int, int]:
    """How many of `entries` (landings of one file) match `checksum` over the file's raw
    `rows`, and the rows they hold between them."""
    agreeing = sum(
        rows_checksum(rows.select(pl.col(c.raw_column).alias(c.name) for c in e.schema()))
        == checksum
        for e in entries
    )
    return agreeing, agreeing * rows.height


def _landed(lake: Lakehouse, feed: str) -> list[LedgerEntry]:
    """The files of `feed` that landed, in the order they were processed: what
    `flows.ingest_files.read_ledger` reads, with the ledger read once for every feed."""
    ledger = lake.rows(ops.INGEST_LEDGER).filter(
        (pl.col("feed") == feed) & (pl.col("status") == LANDED)
    )
    names = {f.name for f in dataclasses.fields(LedgerEntry)}
    return [
        LedgerEntry(**{k: v for k, v in row.items() if k in names})
        for row in ledger.sort("processed_at", "landing_key").iter_rows(named=True)
    ]


def _by_key(entries: Sequence[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    grouped: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.landing_key].append(entry)
    return grouped


def _known_digest(entries: Sequence[LedgerEntry], expected: Mapping[str, str]) -> str:
    """A digest of what the known files are checked against: their ledger entries (in
    order) and the manifest's checksums."""
    described = [[e.landing_key, e.rows, e.file_schema, expected[e.landing_key]] for e in entries]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()
