"""Accuracy of the stream: sampled staged events compared with the JSON they arrived as.

The stream keeps no state to ask, so this checks staging against what arrived, not against
the producer. A staged event agrees when its typed columns equal the fields of a payload its
event id arrived with (any of them, when a producer retried). The sample is the staged rows
of the `SAMPLE_SIZE` event ids whose sha256 sorts first (one row each, unless staging
repeated an id).

Staging and raw only grow between runs, so the sample and each sampled event's agreement are
carried from the last run (`Tally`): a run reads just the events staged and the records
arrived since. Whole tables are read again only when one was rewritten (a rebuild, a
compaction), or for a newly sampled event that agrees with none of the records arrived since
(it may agree with an older one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from pyiceberg.table import Table
from pyiceberg.types import IcebergType, TimestamptzType

from catalog.reader import appended_since, read_added
from catalog.tables import raw
from flows.quality.agreement import row_digest
from flows.quality.results import ACCURACY, DqResult, Threshold, measured, not_applicable, percent
from flows.quality.running import carried
from flows.quality.sampling import Lowest, lowest
from flows.quality.sampling import carried as carried_keys
from flows.quality.tables import Lakehouse, current_id, frame, isin
from flows.stage import Staged, consumed_snapshot

# The stream record columns that are typed copies of the JSON payload's fields.
PAYLOAD_FIELDS = tuple(
    c.name
    for c in raw.CLICKSTREAM_EVENTS.columns
    if not c.name.startswith("_") and c.name not in ("payload", "partition_key", "arrived_at")
)
KEY = "event_id"
ONE_AGREEING = (1, 1, ())


@dataclass(frozen=True)
class Tally:
    """The sample, and for each sampled event id whose staged rows are not exactly one
    agreeing row: its rows, how many agree, and the digests of those that do not (rechecked
    against records arriving later)."""

    sample: Lowest
    odd: Mapping[str, tuple[int, int, tuple[str, ...]]]

    @property
    def rows(self) -> int:
        """The staged rows of the sampled ids (one each, unless staging repeated an id)."""
        return sum(self.odd.get(k, ONE_AGREEING)[0] for k in self.sample.keys)

    @property
    def agreeing(self) -> int:
        return sum(self.odd.get(k, ONE_AGREEING)[1] for k in self.sample.keys)


def stream_accuracy(lake: Lakehouse, staged: Staged, bound: Threshold) -> DqResult:
    """Sampled staged events that agree with a JSON payload they arrived with."""
    feed = staged.feed
    target, arrived = lake.table(staged.target), lake.table(staged.source)
    if target.current_snapshot() is None:
        return not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    types = {f.name: f.field_type for f in target.schema().fields}
    compare = _Compare([c for c in PAYLOAD_FIELDS if c in types], types)
    prior = lake.prior(feed, ACCURACY)
    kept = _carried(target, arrived, compare, prior)
    tally = kept or _full(target, arrived, compare)
    if not tally.sample.keys:
        return not_applicable(feed, ACCURACY, bound, "the staging table is empty")
    running = {
        "staged": current_id(target),
        "arrived": _arrived_mark(target, arrived),
        "schema": target.schema().schema_id,
        "sample": tally.sample.to_json(),
        "odd": {k: [rows, agree, list(pending)] for k, (rows, agree, pending) in tally.odd.items()},
        **carried(prior if kept else None),
    }
    detail = (
        f"{tally.agreeing:,} of {tally.rows:,} sampled staged events agree with the JSON they "
        "arrived as (the stream keeps no state to ask, so this checks staging against "
        "what arrived, not against the producer)"
    )
    return measured(feed, ACCURACY, bound, percent(tally.agreeing, tally.rows), detail, running)


@dataclass(frozen=True)
class _Compare:
    """The payload fields staging types as columns, and those columns' types."""

    columns: Sequence[str]
    types: Mapping[str, IcebergType]

    def staged(self, events: pl.DataFrame) -> dict[str, list[str]]:
        """By event id, the digests of its staged rows."""
        digests = defaultdict(list)
        for event in events.iter_rows(named=True):
            digests[event[KEY]].append(row_digest(event, self.columns))
        return digests

    def arrived(self, records: pl.DataFrame) -> dict[str, set[str]]:
        """By event id, the digests of the payloads it arrived with (unreadable ones: none)."""
        digests = defaultdict(set)
        for event_id, payload in records.select(KEY, "payload").iter_rows():
            digest = self._payload_digest(payload)
            if digest is not None:
                digests[event_id].add(digest)
        return digests

    def _payload_digest(self, payload: str | None) -> str | None:
        try:
            fields = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            return None
        if not isinstance(fields, dict):
            return None
        try:
            parsed = {
                c: datetime.fromisoformat(fields[c])
                if isinstance(self.types[c], TimestamptzType) and fields.get(c)
                else fields.get(c)
                for c in self.columns
            }
        except (TypeError, ValueError):  # a timestamp field that is not an ISO 8601 string
            return None
        return row_digest(parsed, self.columns)


def _full(target: Table, arrived: Table, compare: _Compare) -> Tally:
    """The tally over every staged event id and every record."""
    sample = lowest(frame(target, columns=(KEY,))[KEY])
    if not sample.keys:
        return Tally(sample, {})
    within = isin(KEY, sample.keys)
    events = frame(target, row_filter=within, columns=(KEY, *compare.columns))
    records = frame(arrived, row_filter=within, columns=(KEY, "payload"))
    return _tallied(sample, {}, compare.staged(events), compare.arrived(records))


def _carried(
    target: Table, arrived: Table, compare: _Compare, prior: Mapping[str, Any] | None
) -> Tally | None:
    """The last run's tally updated with the events staged and the records arrived since;
    None when either table was rewritten since (or staging's schema changed)."""
    if prior is None or prior["schema"] != target.schema().schema_id:
        return None
    staged_since = appended_since(target, prior["staged"])
    arrived_since = appended_since(arrived, prior["arrived"])
    if staged_since is None or arrived_since is None:
        return None
    before = Lowest.from_json(prior["sample"])
    events = read_added(target, staged_since, columns=(KEY, *compare.columns))
    # Staging lost no event, so the sample is always drawn from what is carried.
    sample = carried_keys(before, events[KEY])
    if sample is None:
        return None
    sampled = pl.col(KEY).is_in(list(sample.keys))
    records = read_added(arrived, arrived_since, columns=(KEY, "payload")).filter(sampled)
    odd = prior["odd"]
    figures = {
        k: (odd[k][0], odd[k][1], tuple(odd[k][2])) if k in odd else ONE_AGREEING
        for k in before.keys
    }
    return _tallied(
        sample,
        figures,
        compare.staged(events.filter(sampled)),
        compare.arrived(records),
        lookup=lambda ids: compare.arrived(
            frame(arrived, row_filter=isin(KEY, ids), columns=(KEY, "payload"))
        ),
    )


def _tallied(
    sample: Lowest,
    before: Mapping[str, tuple[int, int, tuple[str, ...]]],
    staged: Mapping[str, list[str]],
    arrived: Mapping[str, set[str]],
    lookup: Callable[[list[str]], Mapping[str, set[str]]] | None = None,
) -> Tally:
    """Each sampled id's figures in `before` (none there: no rows yet) updated with its
    staged rows `staged` (digests) and its payloads `arrived`.

    With `lookup`, `arrived` holds only the records that arrived since `before`: a row that
    agrees with none of them is checked against every payload of its id, which `lookup`
    reads.
    """
    figures: dict[str, tuple[int, int, list[str]]] = {}
    unresolved = []
    for k in sample.keys:
        rows, agree, pending = before.get(k, (0, 0, ()))
        seen = arrived.get(k, set())
        still = [d for d in pending if d not in seen]
        new = staged.get(k, [])
        fresh = [d for d in new if d not in seen]
        figures[k] = (
            rows + len(new),
            agree + len(pending) - len(still) + len(new) - len(fresh),
            still + fresh,
        )
        if fresh and lookup is not None:
            unresolved.append(k)
    if unresolved and lookup is not None:
        everything = lookup(unresolved)
        for k in unresolved:
            rows, agree, left = figures[k]
            still = [d for d in left if d not in everything.get(k, set())]
            figures[k] = (rows, agree + len(left) - len(still), still)
    odd = {
        k: (rows, agree, tuple(left))
        for k, (rows, agree, left) in figures.items()
        if (rows, agree, tuple(left)) != ONE_AGREEING
    }
    return Tally(sample, odd)


def _arrived_mark(target: Table, arrived: Table) -> int | None:
    """The raw snapshot the next run reads records arrived after: the one staging consumed,
    so that the records behind every event it stages next come after it (raw's current
    snapshot when staging's is not in raw's history)."""
    consumed = consumed_snapshot(target)
    if consumed is not None and appended_since(arrived, consumed) is not None:
        return consumed
    return current_id(arrived)
