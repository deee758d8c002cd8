"""Snapshot expiry that keeps what readers resume from (metadata only: no file is deleted)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.utils.datetime import datetime_to_millis

from catalog.maintenance.compaction import _properties
from catalog.writer import BATCH_ID

COMMIT_ATTEMPTS = 4


def retained_snapshots(
    metadata: TableMetadata, *, keep_last: int, pinned: Iterable[int] = ()
) -> set[int]:
    """The snapshots expiry must keep whatever their age.

    Args:
        metadata: the table's metadata.
        keep_last: how many of the newest snapshots to keep.
        pinned: snapshots a reader resumes from (staging's consumed raw snapshot): each is
            kept with every snapshot after it up to the current one, so the reader's walk
            back through the history still reaches it.

    Returns:
        The current snapshot, branch and tag heads, the `keep_last` newest, the newest
        writer commit (the one holding a batch id, whose summary carries the writer's
        checkpoints) and the pinned lineages.
    """
    if keep_last < 1:
        raise ValueError(f"keep at least the current snapshot, got keep_last={keep_last}")
    ordered = sorted(metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
    kept = {s.snapshot_id for s in ordered[-keep_last:]}
    kept |= {ref.snapshot_id for ref in metadata.refs.values()}
    writer = next((s for s in reversed(ordered) if BATCH_ID in _properties(s)), None)
    if writer is not None:
        kept.add(writer.snapshot_id)
    current = metadata.current_snapshot()
    for pin in pinned:
        if metadata.snapshot_by_id(pin) is None:
            continue
        kept.add(pin)
        lineage: list[int] = []
        for snapshot in ancestors_of(current, metadata) if current else ():
            if snapshot.snapshot_id == pin:
                kept.update(lineage)
                break
            lineage.append(snapshot.snapshot_id)
    return kept


def expire_snapshots(
    table: Table, *, older_than: datetime, keep_last: int, pinned: Iterable[int] = ()
) -> list[int]:
    """Expire the snapshots of `table` committed before `older_than`, except those
    `retained_snapshots` keeps; return the ids expired.

    Metadata only, as pyiceberg's expiry: `remove_orphan_files` then deletes the files that
    no retained snapshot needs.

    Raises:
        CommitFailedException: concurrent commits kept winning.
    """
    cutoff = datetime_to_millis(older_than)
    pins = list(pinned)
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        kept = retained_snapshots(table.metadata, keep_last=keep_last, pinned=pins)
        expired = [
            s.snapshot_id
            for s in table.metadata.snapshots
            if s.timestamp_ms < cutoff and s.snapshot_id not in kept
        ]
        if not expired:
            return []
        try:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
        except CommitFailedException:
            # pyiceberg does not retry an expiry: decide again on the new metadata.
            if attempt == COMMIT_ATTEMPTS:
                raise
            table.refresh()
            continue
        return expired
    raise AssertionError("unreachable: the loop returns or raises")
