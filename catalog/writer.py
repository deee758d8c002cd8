"""The one way data gets into the lakehouse: fitted to the table, committed once per batch.

Every commit records its batch id and producing run in the snapshot summary. Before
committing, the writer looks for that batch id in the table's history, so re-running a step
(after a crash, or twice with the same seed) never writes the same batch twice.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from catalog.registry import ensure_table
from catalog.tables.definition import TableDef

BATCH_ID = "c360.batch-id"
RUN_ID = "c360.run-id"
ROWS = "c360.rows"
COMMIT_ATTEMPTS = 8

WriteMode = Literal["append", "overwrite"]


class SchemaMismatchError(ValueError):
    """A frame cannot be fitted to its table; the message names the table and columns."""


@dataclass(frozen=True)
class WriteResult:
    """What one `write` did: `skipped` means the batch was already in the table."""

    table: str
    batch_id: str
    rows: int
    snapshot_id: int | None
    skipped: bool = False


def content_batch_id(*parts: str | bytes | pa.Table) -> str:
    """A batch id that is a digest of its parts (names, watermarks, or Arrow data)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pa.Table):
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, part.schema) as stream:
                stream.write_table(part)
            digest.update(sink.getvalue().to_pybytes())
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def fit_to_schema(data: pa.Table | pl.DataFrame, schema: Schema, table_name: str) -> pa.Table:
    """Reorder, cast and complete `data` so it matches the Iceberg `schema` exactly.

    Missing optional columns become nulls; timestamps become UTC microseconds (naive values
    are taken as UTC); strings become the table's string type.

    Raises:
        SchemaMismatchError: a column is unknown to the table, a required column is missing
            or holds nulls, or a value cannot be cast to the column's type.
    """
    frame = data.to_arrow() if isinstance(data, pl.DataFrame) else data
    target = schema.as_arrow()
    unknown = sorted(set(frame.column_names) - set(target.names))
    if unknown:
        raise SchemaMismatchError(f"{table_name}: columns not in the table definition: {unknown}")
    columns = []
    for field in target:
        if field.name not in frame.column_names:
            if not field.nullable:
                raise SchemaMismatchError(f"{table_name}: required column {field.name!r} missing")
            columns.append(pa.nulls(frame.num_rows, field.type))
            continue
        column = _cast(frame[field.name], field, table_name)
        if not field.nullable and column.null_count:
            raise SchemaMismatchError(
                f"{table_name}: required column {field.name!r} has {column.null_count} nulls"
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=target)


def _cast(column: pa.ChunkedArray, field: pa.Field, table_name: str) -> pa.ChunkedArray:
    source = column.type
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(field.type):
        if source.tz is None and field.type.tz:
            column = pc.assume_timezone(column, "UTC")
        if source.unit == "ns" and field.type.unit == "us":
            # Iceberg stores microseconds: drop sub-microsecond digits (pandas' default unit)
            # instead of refusing the cast as lossy.
            column = column.cast(pa.timestamp("us", column.type.tz), safe=False)
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaMismatchError(
            f"{table_name}: column {field.name!r} ({source}) cannot become {field.type}: {exc}"
        ) from exc


def committed_batch(table: Table, batch_id: str) -> int | None:
    """The snapshot id that committed `batch_id` to `table`, or None if none did."""
    for snapshot in reversed(table.snapshots()):
        if snapshot.summary is not None and snapshot.summary[BATCH_ID] == batch_id:
            return snapshot.snapshot_id
    return None


def write(
    catalog: Catalog,
    definition: TableDef,
    data: pa.Table | pl.DataFrame,
    *,
    batch_id: str,
    run_id: str,
    mode: WriteMode = "append",
    overwrite_filter: BooleanExpression | None = None,
    properties: Mapping[str, str] | None = None,
    commit_empty: bool = False,
) -> WriteResult:
    """Commit `data` to the table once: a batch already in its history is skipped.

    Args:
        catalog: the lakehouse catalog.
        definition: the table, created on first use.
        data: the rows; fitted to the table schema before anything is written.
        batch_id: identifies the batch; committing the same id again is a no-op.
        run_id: the pipeline run producing it, recorded in the snapshot summary.
        mode: `append` adds rows; `overwrite` replaces the rows matching `overwrite_filter`
            (all rows by default).
        properties: extra snapshot-summary entries committed atomically with the data
            (e.g. source checkpoints).
        commit_empty: append a snapshot even with no rows, so its properties are recorded
            (e.g. that staging consumed a raw snapshot that brought nothing new).

    Raises:
        SchemaMismatchError: the data does not fit the table.
        CommitFailedException: concurrent writers kept winning after every retry.
    """
    table = ensure_table(catalog, definition)
    frame = fit_to_schema(data, table.schema(), definition.identifier_name)
    summary = {BATCH_ID: batch_id, RUN_ID: run_id, ROWS: str(frame.num_rows), **(properties or {})}
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        done = committed_batch(table, batch_id)
        if done is not None:
            return WriteResult(definition.identifier_name, batch_id, 0, done, skipped=True)
        if mode == "append" and frame.num_rows == 0 and not commit_empty:
            return WriteResult(definition.identifier_name, batch_id, 0, None)
        try:
            if mode == "append" or table.current_snapshot() is None:
                table.append(frame, snapshot_properties=summary)
            else:
                table.overwrite(
                    frame,
                    overwrite_filter=overwrite_filter or AlwaysTrue(),
                    snapshot_properties=summary,
                )
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS:
                raise
            # Jittered backoff: the writers that collided must not retry in lockstep.
            time.sleep(random.uniform(0.05, 0.2) * attempt)
            table.refresh()
            continue
        snapshot = table.current_snapshot()
        return WriteResult(
            definition.identifier_name,
            batch_id,
            frame.num_rows,
            snapshot.snapshot_id if snapshot else None,
        )
    raise AssertionError("unreachable: the loop returns or raises")
