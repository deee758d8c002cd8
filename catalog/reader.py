"""Reading a declared lakehouse table into Polars, as the pipeline's own bookkeeping does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.conversions import from_bytes
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, EqualTo
from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow
from pyiceberg.manifest import DataFile, ManifestContent
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Operation, Snapshot, ancestors_of
from pyiceberg.types import BinaryType, FixedType, PrimitiveType, StringType

from catalog.registry import ensure_table
from catalog.tables.definition import TableDef

# Types whose file bounds pyiceberg may truncate: no maximum is read from them.
TRUNCATED = (StringType, BinaryType, FixedType)


def read_rows(
    catalog: Catalog,
    definition: TableDef,
    row_filter: str | BooleanExpression = "True",
    columns: Sequence[str] = (),
) -> pl.DataFrame:
    """Rows of the table (created if missing; none before its first commit, with its
    columns), optionally filtered (pyiceberg's filter syntax) and narrowed to `columns`."""
    scan = ensure_table(catalog, definition).scan(
        row_filter=row_filter, selected_fields=tuple(columns) or ("*",)
    )
    frame = pl.from_arrow(scan.to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def read_snapshot(
    catalog: Catalog,
    definition: TableDef,
    snapshot_id: int | None,
    columns: Sequence[str] = (),
    row_filter: str | BooleanExpression = "True",
) -> pa.Table:
    """Rows of the table as they were at `snapshot_id` (None: before its first commit, so
    none), as Arrow, optionally filtered and narrowed to `columns`.

    Reading a snapshot named earlier (rather than the current state) keeps what was read
    consistent with that name while other writers commit.
    """
    table = ensure_table(catalog, definition)
    if snapshot_id is None:
        schema = table.schema()
        return (schema.select(*columns) if columns else schema).as_arrow().empty_table()
    scan = table.scan(
        row_filter=row_filter, selected_fields=tuple(columns) or ("*",), snapshot_id=snapshot_id
    )
    return scan.to_arrow()


def equals(column: str, value: str) -> BooleanExpression:
    """`column = value` as a pyiceberg row filter, the value bound as a literal (never
    spliced into filter text); pyiceberg's stubs miss this signature."""
    return EqualTo(column, value)  # type: ignore[call-arg, arg-type, misc]


def appended_since(table: Table, snapshot_id: int | None) -> list[Snapshot] | None:
    """The snapshots committed to `table` after `snapshot_id` (None: since it was created),
    oldest first, when every one of them only appended rows; None when `snapshot_id` is not
    in the current history (expired, rolled back), or is None and the history no longer
    reaches the table's first commit, or a later commit did anything else (an overwrite, a
    delete, a compaction).

    After such a chain the table holds exactly the rows it held at `snapshot_id` plus the rows
    of the data files the chain added (`read_added`), so a reader can carry what it knew at
    `snapshot_id` forward by reading only those.
    """
    current = table.current_snapshot()
    chain = []
    for snapshot in ancestors_of(current, table.metadata) if current is not None else ():
        if snapshot.snapshot_id == snapshot_id:
            break
        chain.append(snapshot)
    else:
        # Since creation only if the oldest snapshot left holds only the files it added: an
        # expired commit's files are still in the table, but no snapshot of the chain names
        # them (and expiry leaves no parent id to tell).
        if snapshot_id is not None or (chain and not _holds_only_its_own(chain[-1])):
            return None
    if any(s.summary is None or s.summary.operation != Operation.APPEND for s in chain):
        return None
    return chain[::-1]


def _holds_only_its_own(snapshot: Snapshot) -> bool:
    summary = snapshot.summary
    if summary is None:
        return False
    return summary.get("total-data-files") == summary.get("added-data-files", "0")


def read_added(
    table: Table,
    snapshots: Sequence[Snapshot],
    *,
    columns: Sequence[str] = (),
    row_filter: BooleanExpression | None = None,
) -> pl.DataFrame:
    """Rows of the data files `snapshots` added to `table`, optionally filtered and narrowed;
    only the manifests those commits wrote are read (`added_files`)."""
    frame = pl.from_arrow(
        read_files(table, added_files(table, snapshots), columns=columns, row_filter=row_filter)
    )
    assert isinstance(frame, pl.DataFrame)
    return frame


def added_files(table: Table, snapshots: Sequence[Snapshot]) -> list[DataFile]:
    """The data files `snapshots` added to `table`, found in the manifests those commits
    wrote alone: planning a scan opens every manifest of the table, one per commit ever
    made to it until maintenance compacts them.

    Meant for a chain `appended_since` returned: its files are all still live, and no delete
    file applies to them (an append adds none; older ones reach only older data).
    """
    ids = {s.snapshot_id for s in snapshots}
    current = table.current_snapshot()
    return [
        entry.data_file
        for manifest in (current.manifests(table.io) if current is not None and ids else ())
        if manifest.content == ManifestContent.DATA and manifest.added_snapshot_id in ids
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
        if entry.snapshot_id in ids
    ]


def read_files(
    table: Table,
    files: Sequence[DataFile],
    *,
    columns: Sequence[str] = (),
    row_filter: BooleanExpression | None = None,
) -> pa.Table:
    """Rows of `files` (data files of `table` no delete file applies to), optionally
    filtered and narrowed to `columns`, as Arrow."""
    schema = table.schema().select(*columns) if columns else table.schema()
    scan = ArrowScan(table.metadata, table.io, schema, row_filter or AlwaysTrue())
    return scan.to_table([FileScanTask(f) for f in files])


def column_max(table: Table, column: str) -> Any:
    """The largest value of `column` in `table` now (None: no value), from the bounds the
    manifests keep for each data file, so no data is read: a whole-history maximum costs the
    table's metadata, not its rows. Read from the data instead where the bounds cannot
    tell: a text or binary column (its bounds may be truncated), a file with deletes, or a
    file holding values but no bound.
    """
    field = table.schema().find_field(column)
    kind = field.field_type
    scan = table.scan(selected_fields=(column,))
    if not isinstance(kind, PrimitiveType) or isinstance(kind, TRUNCATED):
        return pc.max(scan.to_arrow()[column]).as_py()
    values = []
    for task in scan.plan_files():
        data = task.file
        upper = (data.upper_bounds or {}).get(field.field_id)
        nulls = (data.null_value_counts or {}).get(field.field_id)
        if upper is None and nulls == data.record_count:
            continue  # only nulls
        if upper is None or task.delete_files:
            return pc.max(scan.to_arrow()[column]).as_py()
        values.append(from_bytes(kind, upper))
    return pa.scalar(max(values), type=schema_to_pyarrow(kind)).as_py() if values else None


def row_count(table: Table, snapshot: Snapshot | None = None) -> int:
    """Rows in `snapshot` of `table` (default: the current one): its summary's
    `total-records` when no delete file can hide any of them, else counted by a scan."""
    snapshot = snapshot or table.current_snapshot()
    if snapshot is None:
        return 0
    if snapshot.summary is not None:
        records = snapshot.summary.get("total-records")
        if records is not None and snapshot.summary.get("total-delete-files") == "0":
            return int(records)
    return table.scan(snapshot_id=snapshot.snapshot_id).count()
