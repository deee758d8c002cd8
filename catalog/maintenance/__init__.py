"""Table maintenance: compact small files, expire old snapshots, delete unreferenced files.

pyiceberg 0.12 expires snapshots (metadata only: no file is deleted) and has neither orphan
removal nor compaction; this package adds both. What maintenance never breaks:
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

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, ValidationException
from pyiceberg.table import Table

from c360.settings import MaintenanceSettings
from catalog.maintenance.compaction import (
    COMPACT,
    MAINTENANCE,
    Compaction,
    checkpoints,
    compact,
    plan_compaction,
    rewrite_files,
)
from catalog.maintenance.expiry import expire_snapshots, retained_snapshots
from catalog.maintenance.orphans import (
    OrphanListingError,
    Removal,
    _fs_path,
    referenced_files,
    remove_orphan_files,
)
from catalog.registry import TABLES

__all__ = [
    "COMPACT",
    "MAINTENANCE",
    "SOURCE_SNAPSHOT",
    "Compaction",
    "OrphanListingError",
    "Removal",
    "TableReport",
    "check_locations",
    "checkpoints",
    "compact",
    "declared_tables",
    "expire_snapshots",
    "maintain",
    "maintain_table",
    "pinned_snapshots",
    "plan_compaction",
    "referenced_files",
    "remove_orphan_files",
    "retained_snapshots",
    "rewrite_files",
]

# The raw snapshot a staging table's current state was built from (written by flows/stage.py).
SOURCE_SNAPSHOT = "c360.source-snapshot"
MB = 1024 * 1024


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
