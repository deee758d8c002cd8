"""Compaction: small data files rewritten into bigger ones holding the same rows, in one
atomic commit that carries its parent's checkpoints."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Operation, Snapshot, Summary
from pyiceberg.table.update.snapshot import _OverwriteFiles
from pyiceberg.table.update.validate import (
    _validate_data_files_exist,
    _validate_no_new_deletes_for_data_files,
)
from pyiceberg.typedef import EMPTY_DICT, Record

from catalog.writer import BATCH_ID, ROWS, RUN_ID

MAINTENANCE = "c360.maintenance"
COMPACT = "compact"
# Summary entries about one commit; every other `c360.*` entry is a checkpoint (where a
# reader or writer stands), which a compaction commit carries forward.
PER_COMMIT = frozenset({BATCH_ID, RUN_ID, ROWS, MAINTENANCE})
CHECKPOINT_PREFIX = "c360."


@dataclass(frozen=True)
class Compaction:
    """What `compact` did: live data files before and after, how many it replaced."""

    files_before: int
    files_after: int
    rewritten: int = 0
    snapshot_id: int | None = None


def plan_compaction(
    tasks: Sequence[FileScanTask], *, spec_id: int, target_bytes: int, min_files: int
) -> list[list[FileScanTask]]:
    """Group the small files (under `target_bytes`) into bins of at most `target_bytes`,
    never mixing partitions; no bins at all unless there are `min_files` small files.

    Only files of the current partition spec without delete files are taken; a bin of one
    file is dropped (rewriting it would change nothing).
    """
    small = [
        t
        for t in tasks
        if t.file.file_size_in_bytes < target_bytes
        and t.file.spec_id == spec_id
        and not t.delete_files
    ]
    if len(small) < min_files:
        return []
    by_partition: dict[Record, list[FileScanTask]] = defaultdict(list)
    for task in small:
        by_partition[task.file.partition].append(task)
    bins: list[list[FileScanTask]] = []
    for group in by_partition.values():
        current: list[FileScanTask] = []
        size = 0
        for task in group:
            if current and size + task.file.file_size_in_bytes > target_bytes:
                bins.append(current)
                current, size = [], 0
            current.append(task)
            size += task.file.file_size_in_bytes
        bins.append(current)
    return [b for b in bins if len(b) > 1]


def compact(table: Table, *, target_bytes: int, min_files: int) -> Compaction:
    """Rewrite the table's small data files into files of about `target_bytes`, once it has
    `min_files` small ones: one atomic commit, the same rows in the same partitions.

    A table with delete files is left alone: its rewritten files would take a newer
    sequence number than the deletes that apply to them.

    Raises:
        ValidationException: a concurrent commit removed or deleted from a file being
            rewritten (appends are fine); nothing changed, the files written were deleted.
        CommitFailedException: concurrent commits kept winning; likewise.
    """
    snapshot = table.current_snapshot()
    if snapshot is None:
        return Compaction(0, 0)
    tasks = list(table.scan(snapshot_id=snapshot.snapshot_id).plan_files())
    before = len(tasks)
    if any(task.delete_files for task in tasks):
        return Compaction(before, before)
    bins = plan_compaction(
        tasks, spec_id=table.spec().spec_id, target_bytes=target_bytes, min_files=min_files
    )
    if not bins:
        return Compaction(before, before)
    written = rewrite_files(table, bins)
    rewritten = sum(len(b) for b in bins)
    current = table.current_snapshot()
    return Compaction(
        before, before - rewritten + written, rewritten, current.snapshot_id if current else None
    )


def rewrite_files(table: Table, bins: Sequence[Sequence[FileScanTask]]) -> int:
    """Replace each bin of data files by the files holding its rows, in one commit marked
    `c360.maintenance=compact`; return how many files were written.

    Raises:
        ValidationException, CommitFailedException: the commit did not land; the files
            written for it were deleted.
    """
    reader = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    transaction = table.transaction()
    rewrite = _Rewrite(
        operation=Operation.OVERWRITE,
        transaction=transaction,
        io=table.io,
        snapshot_properties={MAINTENANCE: COMPACT},
    )
    counter = itertools.count(0)
    written = []
    try:
        for group in bins:
            rows = reader.to_table(group)
            files = list(
                _dataframe_to_data_files(
                    table.metadata, rows, table.io, write_uuid=rewrite.commit_uuid, counter=counter
                )
            )
            written += files
            for task in group:
                rewrite.delete_data_file(task.file)
            for data_file in files:
                rewrite.append_data_file(data_file)
        rewrite.commit()
        transaction.commit_transaction()
    except (CommitFailedException, ValidationException):
        # pyiceberg guarantees these commits did not land: the new files are nobody's.
        for data_file in written:
            table.io.delete(data_file.file_path)
        raise
    return len(written)


def checkpoints(snapshot: Snapshot | None) -> dict[str, str]:
    """The `c360.*` summary entries of `snapshot` that say where a reader or writer stands
    (not the ones describing the commit itself)."""
    return {
        key: str(value)
        for key, value in _properties(snapshot).items()
        if key.startswith(CHECKPOINT_PREFIX) and key not in PER_COMMIT
    }


class _Rewrite(_OverwriteFiles):
    """An overwrite that rewrites files: it carries its parent's checkpoints and lets
    concurrent appends be.

    When a concurrent commit wins, pyiceberg validates and rebuilds the snapshot on the new
    head. The checkpoints are read at each attempt, so they are always the actual parent's
    (e.g. the stream consumer's latest positions).
    """

    def _summary(self, snapshot_properties: dict[str, str] = EMPTY_DICT) -> Summary:
        metadata = self._transaction.table_metadata
        parent_id = self._parent_snapshot_id
        parent = metadata.snapshot_by_id(parent_id) if parent_id is not None else None
        return super()._summary({**checkpoints(parent), **snapshot_properties})

    def _validate_concurrency(self) -> None:
        # Snapshot isolation, as Iceberg's own RewriteFiles: rows appended meanwhile are in
        # other files, which the rewrite leaves alone (pyiceberg's default, serializable,
        # would fail it on every append: the stream consumer commits every few seconds).
        # The replaced files must still be live and without new deletes.
        window = self._commit_window
        if window is None or window.is_empty() or window.head is None:
            return
        table = self._transaction._table
        replaced = self._deleted_data_files
        _validate_data_files_exist(table, window.head, replaced, window.base)
        _validate_no_new_deletes_for_data_files(table, window.head, None, replaced, window.base)


def _properties(snapshot: Snapshot | None) -> dict[str, str]:
    if snapshot is None or snapshot.summary is None:
        return {}
    return snapshot.summary.additional_properties
