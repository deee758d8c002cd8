"""Table maintenance: compact small files, expire old snapshots, delete unreferenced files.

pyiceberg 0.12 expires snapshots (metadata only: no file is deleted) and has neither orphan
removal nor compaction; this module adds both. What maintenance never breaks:
- every retained snapshot stays readable: a file is deleted only when no retained snapshot,
  manifest or metadata file names it, and only once older than a grace period (a write in
  flight has files that no snapshot names yet);
- readers that resume from history keep their place: a table's current snapshot, its newest
  writer commit (whose summary holds the writer's checkpoints) and the snapshot a staging
  table was built from (`c360.source-snapshot`), with every snapshot after it, are kept;
- compaction changes no row: one atomic commit replaces small files with bigger ones holding
  the same rows, in the same partitions. It is marked `c360.maintenance=compact`, carries no
  batch id (incremental readers see no new batch) and carries its parent's checkpoint
  entries (staging's consumed snapshot, ingestion watermarks) so the current snapshot still
  says where each reader stands.

The writer's idempotency (`writer.committed_batch`) remembers a batch only while the
snapshot that committed it is retained: a failed run must be retried within the retention.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, ValidationException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Operation, Snapshot, Summary, ancestors_of
from pyiceberg.table.update.snapshot import _OverwriteFiles
from pyiceberg.table.update.validate import (
    _validate_data_files_exist,
    _validate_no_new_deletes_for_data_files,
)
from pyiceberg.typedef import EMPTY_DICT, Record
from pyiceberg.utils.datetime import datetime_to_millis

from c360.settings import MaintenanceSettings
from catalog.registry import TABLES
from catalog.writer import BATCH_ID, ROWS, RUN_ID

MAINTENANCE = "c360.maintenance"
COMPACT = "compact"
# The raw snapshot a staging table's current state was built from (written by flows/stage.py).
SOURCE_SNAPSHOT = "c360.source-snapshot"
# Summary entries about one commit; every other `c360.*` entry is a checkpoint (where a
# reader or writer stands), which a compaction commit carries forward.
PER_COMMIT = frozenset({BATCH_ID, RUN_ID, ROWS, MAINTENANCE})
CHECKPOINT_PREFIX = "c360."
COMMIT_ATTEMPTS = 4
MB = 1024 * 1024


class OrphanListingError(RuntimeError):
    """A table's location cannot be told apart from what is not the table's (its listing
    misses its own metadata file, or another table lives inside it): nothing was deleted."""


@dataclass(frozen=True)
class Compaction:
    """What `compact` did: live data files before and after, how many it replaced."""

    files_before: int
    files_after: int
    rewritten: int = 0
    snapshot_id: int | None = None


@dataclass(frozen=True)
class Removal:
    """The files `remove_orphan_files` deleted (or would delete, in a dry run)."""

    files: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class TableReport:
    """What maintenance did to one table."""

    table: str
    snapshots_expired: int
    snapshots_kept: int
    files_removed: int
    bytes_freed: int
    files_before: int
    files_after: int
    note: str = ""

    @property
    def changed(self) -> bool:
        return bool(
            self.snapshots_expired or self.files_removed or self.files_before != self.files_after
        )

    def describe(self) -> str:
        """One line for a log."""
        line = (
            f"{self.table}: {self.snapshots_expired} snapshots expired "
            f"({self.snapshots_kept} kept), {self.files_removed} files removed "
            f"({self.bytes_freed / MB:.1f} MB), data files {self.files_before} -> "
            f"{self.files_after}"
        )
        return f"{line}; {self.note}" if self.note else line


# --- Expiry ---------------------------------------------------------------------------------


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


# --- Orphan files ---------------------------------------------------------------------------


def referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata names: the current and logged metadata files,
    statistics files, and for every retained snapshot its manifest list, its manifests and
    their live data and delete files."""
    metadata = table.metadata
    files = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    files |= {s.statistics_path for s in metadata.statistics}
    files |= {s.statistics_path for s in metadata.partition_statistics}
    manifests = {}
    for snapshot in metadata.snapshots:
        files.add(snapshot.manifest_list)
        manifests.update({m.manifest_path: m for m in snapshot.manifests(table.io)})
    files.update(manifests)
    for manifest in manifests.values():
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            files.add(entry.data_file.file_path)
    return files


def remove_orphan_files(table: Table, *, older_than: datetime, dry_run: bool = False) -> Removal:
    """Delete the files under the table's location that `referenced_files` does not name
    and that were last modified before `older_than`.

    Files are listed before the references are read, so a file committed meanwhile counts
    as referenced; `older_than` must leave room for the longest write in flight.

    Raises:
        OrphanListingError: the listing misses the table's own metadata file (a location
            this function cannot read right); nothing was deleted.
    """
    table.refresh()
    fs, root = _filesystem(table)
    own_metadata = _fs_path(table.metadata_location)
    listed = {
        info.path: info
        for info in fs.get_file_info(pafs.FileSelector(root, recursive=True))
        if info.type == pafs.FileType.File
    }
    if own_metadata not in listed:
        raise OrphanListingError(
            f"{'.'.join(table.name())}: listing {root} did not find its metadata file "
            f"{own_metadata}; no file was deleted"
        )
    table.refresh()
    referenced = {_fs_path(location) for location in referenced_files(table)}
    cutoff_ns = int(older_than.timestamp() * 1e9)
    orphans = sorted(
        path
        for path, info in listed.items()
        if path not in referenced and info.mtime_ns is not None and info.mtime_ns < cutoff_ns
    )
    freed = sum(listed[path].size or 0 for path in orphans)
    if not dry_run:
        for path in orphans:
            try:
                fs.delete_file(path)
            except FileNotFoundError:
                continue  # gone already (another maintenance run)
    return Removal(tuple(orphans), freed)


def _filesystem(table: Table) -> tuple[pafs.FileSystem, str]:
    """The table's file system (with the catalog's credentials) and its location on it."""
    io = table.io if isinstance(table.io, PyArrowFileIO) else PyArrowFileIO(table.io.properties)
    scheme, netloc, path = PyArrowFileIO.parse_location(table.location(), io.properties)
    return io.fs_by_scheme(scheme, netloc), path.rstrip("/")


def _fs_path(location: str) -> str:
    """A location as the file system lists it: `bucket/key` for S3, an absolute local path."""
    return PyArrowFileIO.parse_location(location)[2]


# --- Compaction -----------------------------------------------------------------------------


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


# --- All of it ------------------------------------------------------------------------------


def declared_tables(catalog: Catalog) -> dict[str, Table]:
    """The declared tables that exist in `catalog`, by name (maintenance creates none)."""
    tables = {}
    for name in TABLES:
        try:
            tables[name] = catalog.load_table(name)
        except NoSuchTableError:
            continue
    return tables


def check_locations(catalog: Catalog, tables: Mapping[str, Table]) -> None:
    """Make sure no table of the catalog lives inside the location of one of `tables`,
    where orphan removal would take its files for that table's orphans.

    Raises:
        OrphanListingError: naming the two tables.
    """
    roots = {name: _root(table) for name, table in tables.items()}
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            name = ".".join(identifier)
            inside = roots.get(name) or _root(catalog.load_table(identifier))
            for outer, outside in roots.items():
                if outer != name and inside.startswith(outside):
                    raise OrphanListingError(
                        f"{name} lives inside the location of {outer} ({outside}): give it "
                        "a location of its own before maintaining them"
                    )


def _root(table: Table) -> str:
    return _fs_path(table.location()).rstrip("/") + "/"


def pinned_snapshots(tables: Mapping[str, Table]) -> dict[str, set[int]]:
    """Per table, the snapshots other tables' current state was built from and that their
    next incremental run starts after (staging's `c360.source-snapshot` in raw)."""
    owners = {s.snapshot_id: name for name, t in tables.items() for s in t.metadata.snapshots}
    pins: dict[str, set[int]] = defaultdict(set)
    for table in tables.values():
        source = checkpoints(table.current_snapshot()).get(SOURCE_SNAPSHOT)
        if source is not None and int(source) in owners:
            pins[owners[int(source)]].add(int(source))
    return dict(pins)


def maintain_table(
    table: Table,
    options: MaintenanceSettings,
    *,
    pinned: Iterable[int] = (),
    now: datetime | None = None,
) -> TableReport:
    """Compact, expire, then delete what no retained snapshot needs, in that order: the
    files compaction replaced stay while a retained snapshot still reads them.

    A compaction that loses to a concurrent write is skipped (the next run tries again);
    the rest goes on.
    """
    now = now or datetime.now(UTC)
    note = ""
    table.refresh()  # loaded a while ago, maybe: plan on what is current
    try:
        compaction = compact(
            table,
            target_bytes=int(options.compact_target_mb * MB),
            min_files=options.compact_min_files,
        )
    except (CommitFailedException, ValidationException) as exc:
        table.refresh()
        files = len(list(table.scan().plan_files())) if table.current_snapshot() else 0
        compaction = Compaction(files, files)
        note = f"compaction skipped, a concurrent write won: {' '.join(str(exc).split())}"
    expired = expire_snapshots(
        table,
        older_than=now - timedelta(days=options.snapshot_retention_days),
        keep_last=options.keep_last_snapshots,
        pinned=pinned,
    )
    removal = remove_orphan_files(
        table, older_than=now - timedelta(minutes=options.orphan_grace_minutes)
    )
    return TableReport(
        table=".".join(table.name()),
        snapshots_expired=len(expired),
        snapshots_kept=len(table.metadata.snapshots),
        files_removed=len(removal.files),
        bytes_freed=removal.bytes,
        files_before=compaction.files_before,
        files_after=compaction.files_after,
        note=note,
    )


def maintain(
    catalog: Catalog, options: MaintenanceSettings, *, now: datetime | None = None
) -> list[TableReport]:
    """Maintain every declared table of `catalog` (see `maintain_table`).

    Raises:
        OrphanListingError: a table lives inside another's location; nothing was done.
    """
    tables = declared_tables(catalog)
    check_locations(catalog, tables)
    pins = pinned_snapshots(tables)
    return [
        maintain_table(table, options, pinned=pins.get(name, ()), now=now)
        for name, table in tables.items()
    ]
