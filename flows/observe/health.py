"""The ops zone read back as the figures a person checks: runs, SLO compliance per latency
tier, data-quality trends, quarantine reasons, freshness, volumes, table sizes, identity
resolution quality and open alerts. The report (`report.py`) and the `pipeline_health`
notebook both draw from these, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import polars as pl
from pyiceberg.catalog import Catalog

from catalog.alerts import open_alerts
from catalog.reader import read_rows
from catalog.tables import ops
from flows.observe.steps import COMPLETED, existing_tables
from flows.observe.tiers import TIERS


def runs(catalog: Catalog) -> pl.DataFrame:
    """Every recorded run, oldest first, with the simulated day it ran for."""
    recorded = read_rows(catalog, ops.PIPELINE_RUNS).sort("started_at")
    days = [json.loads(p or "{}").get("world_day") for p in recorded["parameters"]]
    return recorded.with_columns(world_day=pl.Series(days, dtype=pl.Int64)).select(
        "run_id", "world_day", "status", "started_at", "duration_s"
    )


def _by_run(catalog: Catalog, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each run's day and start (`run_started_at`); runs not recorded dropped."""
    recorded = runs(catalog).select("run_id", "world_day", run_started_at="started_at")
    return frame.join(recorded, on="run_id")


def dq_trend(catalog: Catalog) -> pl.DataFrame:
    """Per run and SLO metric: the measured feeds, how many passed, and the pass rate (%)."""
    results = _by_run(catalog, read_rows(catalog, ops.DQ_RESULTS))
    return (
        results.filter(pl.col("passed").is_not_null())
        .group_by("run_id", "world_day", "run_started_at", "metric")
        .agg(measured=pl.len(), passed=pl.col("passed").sum())
        .with_columns(pass_pct=100 * pl.col("passed") / pl.col("measured"))
        .sort("run_started_at", "metric")
    )


def quarantine_reasons(catalog: Catalog) -> pl.DataFrame:
    """Rows staging held back or alerted on, by feed, rule and column, most first."""
    held = read_rows(catalog, ops.QUARANTINE, columns=["feed", "rule", "column_name", "action"])
    return (
        held.group_by("feed", "rule", "column_name", "action")
        .len("rows")
        .sort("rows", descending=True)
    )


def freshness(catalog: Catalog) -> pl.DataFrame:
    """Every feed's freshness and replication lag in every run, with the run's day."""
    return _by_run(catalog, read_rows(catalog, ops.SOURCE_FRESHNESS)).sort("run_started_at", "feed")


def latest_freshness(catalog: Catalog) -> pl.DataFrame:
    """Each feed as the newest run measured it."""
    every = freshness(catalog)
    if every.is_empty():
        return every
    return every.filter(pl.col("run_id") == every["run_id"][-1])


def step_volumes(catalog: Catalog) -> pl.DataFrame:
    """Every step of every run: status, duration, rows, bytes, files and snapshots."""
    return _by_run(catalog, read_rows(catalog, ops.RUN_STEPS)).sort("run_started_at", "started_at")


def table_sizes(catalog: Catalog) -> pl.DataFrame:
    """Every table as it stands: rows, data files, bytes and snapshots kept."""
    rows = []
    for name, table in existing_tables(catalog):
        current = table.current_snapshot()
        summary = current.summary if current is not None else None
        rows.append(
            {
                "table_name": name,
                "zone": name.split(".")[0],
                "rows": int(summary.get("total-records") or 0) if summary else 0,
                "data_files": int(summary.get("total-data-files") or 0) if summary else 0,
                "bytes": int(summary.get("total-files-size") or 0) if summary else 0,
                "snapshots": len(table.snapshots()),
            }
        )
    return pl.DataFrame(rows).sort("zone", "table_name")


def identity_quality(catalog: Catalog) -> pl.DataFrame:
    """Identity resolution's precision, recall and F1 against the truth, per run and scope."""
    metrics = read_rows(catalog, ops.IDENTITY_METRICS)
    return _by_run(catalog, metrics).sort("run_started_at", "scope")


def slo_compliance(catalog: Catalog, published: Mapping[int, datetime]) -> pl.DataFrame:
    """Per latency tier: of the simulated days published, how many reached the tier's layer
    within its SLA. A day reaches a layer when the first run step that feeds it (ingest,
    stage or publish) and started after the day was published completes."""
    steps = read_rows(catalog, ops.RUN_STEPS).filter(pl.col("status") == COMPLETED)
    rows = []
    for tier in TIERS:
        mine = steps.filter(pl.col("step") == tier.step).sort("started_at")
        latencies = []
        for at in published.values():
            after = mine.filter(pl.col("started_at") >= at)
            if after.height:
                finished: datetime = after["finished_at"][0]
                latencies.append((finished - at).total_seconds() / 60)
        within = sum(m <= tier.sla_minutes for m in latencies)
        rows.append(
            {
                "tier": tier.number,
                "layer": tier.layer,
                "sla_minutes": float(tier.sla_minutes),
                "days": len(latencies),
                "within_sla": within,
                "compliance_pct": 100 * within / len(latencies) if latencies else None,
                "worst_minutes": max(latencies) if latencies else None,
            }
        )
    return pl.DataFrame(
        rows, schema_overrides={"compliance_pct": pl.Float64, "worst_minutes": pl.Float64}
    )


def alerts_open(catalog: Catalog) -> pl.DataFrame:
    """The alerts raised and not resolved, newest first."""
    return open_alerts(catalog).select("at", "rule", "subject", "detail", "run_id")
