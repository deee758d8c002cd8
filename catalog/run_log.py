"""The pipeline's own records in the `ops` zone: runs, the tables each one wrote, and its
manifest (the snapshot of every table it read and left behind)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import REPO_ROOT, Settings
from catalog.reader import equals, read_rows
from catalog.registry import ensure_table
from catalog.tables import ops
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, write

Role = Literal["read", "result"]


@dataclass(frozen=True)
class TableSnapshot:
    """One manifest entry: a table's snapshot as a run read it or left it."""

    table: str
    role: Role
    snapshot_id: int | None


def current_snapshots(
    catalog: Catalog, tables: Iterable[TableDef], role: Role
) -> list[TableSnapshot]:
    """The current snapshot of each table, as manifest entries."""
    entries = []
    for definition in tables:
        snapshot = ensure_table(catalog, definition).current_snapshot()
        entries.append(
            TableSnapshot(
                definition.identifier_name, role, snapshot.snapshot_id if snapshot else None
            )
        )
    return entries


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    manifest: list[TableSnapshot] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def code_version() -> str | None:
    """The git commit the code runs from, or None outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def record_run(
    catalog: Catalog, settings: Settings, run: RunRecord, writes: list[WriteResult]
) -> None:
    """Append the run, every commit it made and its manifest to `ops.pipeline_runs`,
    `ops.table_writes` and `ops.run_snapshots`."""
    committed = [w for w in writes if not w.skipped]
    if committed:
        rows = pl.DataFrame(
            {
                "run_id": run.run_id,
                "table_name": [w.table for w in committed],
                "snapshot_id": [w.snapshot_id for w in committed],
                "rows_written": [w.rows for w in committed],
                "batch_id": [w.batch_id for w in committed],
                "written_at": run.finished_at,
            }
        )
        write(catalog, ops.TABLE_WRITES, rows, batch_id=f"{run.run_id}:writes", run_id=run.run_id)
    if run.manifest:
        manifest = pl.DataFrame(
            {
                "run_id": run.run_id,
                "table_name": [e.table for e in run.manifest],
                "role": [e.role for e in run.manifest],
                "snapshot_id": [e.snapshot_id for e in run.manifest],
                "recorded_at": run.finished_at,
            },
            schema_overrides={"snapshot_id": pl.Int64},
        )
        write(
            catalog,
            ops.RUN_SNAPSHOTS,
            manifest,
            batch_id=f"{run.run_id}:manifest",
            run_id=run.run_id,
        )
    summary = pl.DataFrame(
        {
            "run_id": [run.run_id],
            "profile": settings.profile.value,
            "scale": settings.scale.value,
            "seed": settings.seed,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_s": run.duration_s,
            "code_version": code_version(),
            "parameters": json.dumps(run.parameters, sort_keys=True),
        }
    )
    write(catalog, ops.PIPELINE_RUNS, summary, batch_id=f"{run.run_id}:run", run_id=run.run_id)


def run_history(catalog: Catalog, limit: int | None = None) -> pl.DataFrame:
    """The recorded runs, newest first, each with how many tables it committed to and the
    rows it wrote."""
    runs = read_rows(catalog, ops.PIPELINE_RUNS)
    writes = (
        read_rows(catalog, ops.TABLE_WRITES)
        .group_by("run_id")
        .agg(
            pl.len().cast(pl.Int64).alias("tables_written"),
            pl.col("rows_written").sum().alias("rows_written"),
        )
    )
    history = (
        runs.join(writes, on="run_id", how="left")
        .with_columns(pl.col("tables_written", "rows_written").fill_null(0))
        .sort("started_at", descending=True)
    )
    return history if limit is None else history.head(limit)


def run_manifest(catalog: Catalog, run_id: str) -> pl.DataFrame:
    """The manifest `record_run` wrote for `run_id`: table_name, role, snapshot_id."""
    return read_rows(
        catalog,
        ops.RUN_SNAPSHOTS,
        equals("run_id", run_id),
        ["table_name", "role", "snapshot_id"],
    )
