"""What each step of a run did. Its time and outcome come from the pipeline marking it
(`RunSteps.step`); what it committed comes from the Iceberg snapshots it made, which all
carry the run id in their summary, so no step has to count for itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from polars._typing import SchemaDict
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from catalog.reader import equals, read_rows
from catalog.registry import TABLES
from catalog.tables import ops, staging
from catalog.writer import RUN_ID

LOG = logging.getLogger(__name__)
COMPLETED, FAILED = "completed", "failed"
UTC_US = pl.Datetime("us", "UTC")
COMMITS_SCHEMA: SchemaDict = {
    "table_name": pl.String,
    "committed_at": UTC_US,
    "rows": pl.Int64,
    "bytes": pl.Int64,
    "files": pl.Int64,
}


@dataclass(frozen=True)
class StepMark:
    """One step of a run as the pipeline saw it: when it ran and why it failed, if it did."""

    step: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None

    @property
    def status(self) -> str:
        return FAILED if self.error else COMPLETED


@dataclass
class RunSteps:
    """The steps of one run as they happen. `on_failure` gets the marks so far when a step
    raises (to record and alert on it) before the error goes on."""

    on_failure: Callable[[list[StepMark]], object]
    marks: list[StepMark] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Mark the step `name` around the block: its time, and its error if it raises."""
        started = datetime.now(UTC)
        try:
            yield
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            error = f"{type(exc).__name__}: {reason}".rstrip(": ")
            self.marks.append(StepMark(name, started, datetime.now(UTC), error))
            try:
                self.on_failure(list(self.marks))
            except Exception:  # the step's own error is the one to see
                LOG.exception("recording the failure of step %s failed", name)
            raise
        self.marks.append(StepMark(name, started, datetime.now(UTC)))


def existing_tables(catalog: Catalog) -> Iterator[tuple[str, Table]]:
    """Every declared table the lakehouse has (none is created by looking)."""
    for name in TABLES:
        try:
            yield name, catalog.load_table(name)
        except NoSuchTableError:
            continue


def run_commits(catalog: Catalog, run_id: str) -> pl.DataFrame:
    """Every snapshot `run_id` committed to any declared table: when, and the rows, bytes and
    data files it added."""
    rows = []
    for name, table in existing_tables(catalog):
        for snapshot in table.snapshots():
            summary = snapshot.summary
            if summary is None or summary.get(RUN_ID) != run_id:
                continue
            rows.append(
                {
                    "table_name": name,
                    "committed_at": datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
                    "rows": int(summary.get("added-records") or 0),
                    "bytes": int(summary.get("added-files-size") or 0),
                    "files": int(summary.get("added-data-files") or 0),
                }
            )
    return pl.DataFrame(rows, schema=COMMITS_SCHEMA)


def staging_totals(catalog: Catalog) -> tuple[int, int]:
    """The rows and data-file bytes every staging table holds now: what a dbt build reads
    in place."""
    records = size = 0
    for definition in staging.TABLES:
        snapshot = catalog.load_table(definition.identifier_name).current_snapshot()
        if snapshot is not None and snapshot.summary is not None:
            records += int(snapshot.summary.get("total-records") or 0)
            size += int(snapshot.summary.get("total-files-size") or 0)
    return records, size


def step_rows(catalog: Catalog, run_id: str, marks: list[StepMark]) -> pl.DataFrame:
    """One `ops.run_steps` row per mark, with the commits made within its time.

    `rows_in` and `bytes_scanned` are counted where the step's input is known: a capture
    (`ingest`) reads what it lands; `stage` reads the raw batches it books in
    `ops.staging_batches`, i.e. the raw files this run's capture added; `model` reads
    every staging table whole (dbt's sources are the tables in place). Elsewhere null.
    """
    commits = run_commits(catalog, run_id)
    rows = []
    for mark in marks:
        made = commits.filter(pl.col("committed_at").is_between(mark.started_at, mark.finished_at))
        rows.append(
            {
                "run_id": run_id,
                "step": mark.step,
                "status": mark.status,
                "started_at": mark.started_at,
                "finished_at": mark.finished_at,
                "duration_s": (mark.finished_at - mark.started_at).total_seconds(),
                "rows_in": None,
                "rows_out": int(made["rows"].sum()),
                "bytes_written": int(made["bytes"].sum()),
                "files_written": int(made["files"].sum()),
                "snapshots_created": made.height,
                "bytes_scanned": None,
                "error": mark.error,
            }
        )
    by_step = {r["step"]: r for r in rows}
    if "ingest" in by_step:
        by_step["ingest"]["rows_in"] = by_step["ingest"]["rows_out"]
    if "stage" in by_step:
        books = read_rows(catalog, ops.STAGING_BATCHES, equals("run_id", run_id), ["raw_rows"])
        by_step["stage"]["rows_in"] = int(books["raw_rows"].sum())
        if "ingest" in by_step:
            by_step["stage"]["bytes_scanned"] = by_step["ingest"]["bytes_written"]
    if "model" in by_step and by_step["model"]["status"] == COMPLETED:
        by_step["model"]["rows_in"], by_step["model"]["bytes_scanned"] = staging_totals(catalog)
    nullable = {"rows_in": pl.Int64, "bytes_scanned": pl.Int64, "error": pl.String}
    return pl.DataFrame(rows, schema_overrides=nullable)
