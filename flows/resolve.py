"""Resolve: staging records -> persons with stable keys, a golden record each, and the
resolution's accuracy against the simulator's truth.

Writes `staging.customer_xref` and `staging.customer_golden` (overwritten: they describe
the current state), and appends to `ops.identity_history` (key merges, splits and
retirements) and `ops.identity_metrics` (pairwise precision, recall and F1 per source).
The xref commit records which staging snapshots it resolved, so a run with nothing new
staged resolves nothing; every write carries a batch id derived from what was read, so a
re-run after a crash never appends history or metrics twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.reader import read_rows
from catalog.registry import ensure_table
from catalog.tables import ops, staging
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, content_batch_id, write
from simulator.truth import read_records
from transforms.identity.metrics import resolution_metrics
from transforms.identity.records import STAGING_COLUMNS, STAGING_TABLES, identity_records
from transforms.identity.resolve import resolve_identities

# The xref snapshot summary entry naming the staging snapshots it resolved.
RESOLVED_SNAPSHOTS = "c360.resolved-snapshots"
# ... and the next customer key to mint: kept with the commit that makes keys official, so
# a re-run after a crash mints exactly the keys the crashed run's history already names.
NEXT_KEY = "c360.next-key"
STAGING_DEFS: dict[str, TableDef] = {t.name: t for t in staging.TABLES}


@dataclass(frozen=True)
class ResolveOutcome:
    """What one resolve step did (`status`: resolved or unchanged)."""

    status: str
    records: int = 0
    customers: int = 0
    history: int = 0
    seconds: float = 0.0
    metrics: pl.DataFrame = field(default_factory=pl.DataFrame)
    unresolved: pl.DataFrame = field(default_factory=pl.DataFrame)
    writes: list[WriteResult] = field(default_factory=list)


def staging_snapshots(catalog: Catalog) -> str:
    """The current snapshot of every staging table resolution reads, as one stable string."""
    parts = []
    for name in sorted(STAGING_TABLES.values()):
        snapshot = ensure_table(catalog, STAGING_DEFS[name]).current_snapshot()
        parts.append(f"{name}={snapshot.snapshot_id if snapshot else 'none'}")
    return ",".join(parts)


def _largest_key(xref: pl.DataFrame) -> int:
    return int(xref.select(pl.col("customer_key").max().fill_null(0)).item())


def resolve_lakehouse(catalog: Catalog, truth_dir: Path | None, *, run_id: str) -> ResolveOutcome:
    """Resolve the current staging state, unless it was resolved already.

    Args:
        catalog: the lakehouse.
        truth_dir: the simulator's truth (`$C360_HOME/sources/truth`); None where there is
            none (real sources), and then no metrics are measured.
        run_id: the pipeline run.
    """
    started = time.perf_counter()
    read = staging_snapshots(catalog)
    last = ensure_table(catalog, staging.CUSTOMER_XREF).current_snapshot()
    summary = last.summary if last and last.summary else None
    if summary and read == summary.get(RESOLVED_SNAPSHOTS):
        return ResolveOutcome("unchanged")
    staged = {
        name: read_rows(catalog, STAGING_DEFS[name], columns=STAGING_COLUMNS[name])
        for name in STAGING_TABLES.values()
    }
    records = identity_records(staged)
    prior = read_rows(
        catalog, staging.CUSTOMER_XREF, columns=["source", "source_record_id", "customer_key"]
    )
    # Above every key ever committed, retired ones too.
    first_new = max(int(summary.get(NEXT_KEY) or 1) if summary else 1, _largest_key(prior) + 1)
    resolution = resolve_identities(records, prior, first_new)
    batch = content_batch_id("resolve", read, str(last and last.snapshot_id))
    now = datetime.now(UTC)
    writes = [
        write(
            catalog,
            ops.IDENTITY_HISTORY,
            resolution.history.with_columns(run_id=pl.lit(run_id), recorded_at=pl.lit(now)),
            batch_id=batch,
            run_id=run_id,
        ),
        write(
            catalog,
            staging.CUSTOMER_GOLDEN,
            resolution.golden,
            batch_id=batch,
            run_id=run_id,
            mode="overwrite",
        ),
    ]
    metrics = pl.DataFrame()
    if truth_dir is not None and truth_dir.exists():
        metrics = resolution_metrics(
            resolution.xref, resolution.unresolved, read_records(truth_dir)
        )
        writes.append(
            write(
                catalog,
                ops.IDENTITY_METRICS,
                metrics.with_columns(run_id=pl.lit(run_id), measured_at=pl.lit(now)),
                batch_id=batch,
                run_id=run_id,
            )
        )
    # Last: its summary is what marks these staging snapshots as resolved.
    writes.append(
        write(
            catalog,
            staging.CUSTOMER_XREF,
            resolution.xref,
            batch_id=batch,
            run_id=run_id,
            mode="overwrite",
            properties={
                RESOLVED_SNAPSHOTS: read,
                NEXT_KEY: str(max(first_new, _largest_key(resolution.xref) + 1)),
            },
            commit_empty=True,
        )
    )
    return ResolveOutcome(
        "resolved",
        records=resolution.xref.height,
        customers=resolution.golden.height,
        history=resolution.history.height,
        seconds=time.perf_counter() - started,
        metrics=metrics,
        unresolved=resolution.unresolved,
        writes=writes,
    )


@task(cache_policy=NO_CACHE, task_run_name="resolve-identities")
def resolve_task(settings: Settings, run_id: str) -> ResolveOutcome:
    """Resolve identities across every staged source and measure it against the truth."""
    outcome = resolve_lakehouse(
        open_catalog(settings), settings.sources_dir / "truth", run_id=run_id
    )
    logger = get_run_logger()
    if outcome.status == "unchanged":
        logger.info("identity resolution: nothing new staged")
        return outcome
    logger.info(
        "identity resolution: %d records -> %d customers in %.1f s, %d key changes",
        outcome.records,
        outcome.customers,
        outcome.seconds,
        outcome.history,
    )
    if not outcome.metrics.is_empty():
        overall = outcome.metrics.filter(pl.col("scope") == "all").row(0, named=True)
        logger.info(
            "identity resolution vs truth: precision %.4f, recall %.4f, F1 %.4f",
            overall["precision"],
            overall["recall"],
            overall["f1"],
        )
    return outcome
