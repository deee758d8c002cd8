"""One run's observation: its steps and its feeds' freshness recorded in `ops`, the alert
rules evaluated on them, and every alert the run raised or resolved routed to the channels.
The pipeline calls `partitions_task` after its capture (a missing delivery blocks models)
and `observe_task` at its end, or as soon as a step fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from c360.settings import Settings
from catalog.alerts import recorded_by, route
from catalog.factory import open_catalog
from catalog.tables import ops
from catalog.writer import write
from flows.observe.freshness import measure_freshness
from flows.observe.partitions import blocked_tables, find_missing
from flows.observe.rules import (
    COST,
    MISSING_PARTITION,
    REPLICATION_LAG,
    SCHEMA_DRIFT,
    STEP_FAILED,
    drifted_feeds,
    failed_steps,
    lagging_feeds,
    missing_partitions,
    over_budget,
    settle,
)
from flows.observe.steps import StepMark, step_rows


@dataclass(frozen=True)
class Observation:
    """What `observe` recorded and which alerts the run raised or resolved."""

    steps: pl.DataFrame
    freshness: pl.DataFrame
    alerts: pl.DataFrame


def observe(
    settings: Settings, run_id: str, marks: Sequence[StepMark], now: datetime | None = None
) -> Observation:
    """Record the run's steps and freshness, evaluate the rules and route the run's alerts."""
    catalog = open_catalog(settings)
    steps = step_rows(catalog, run_id, list(marks))
    write(catalog, ops.RUN_STEPS, steps, batch_id=f"{run_id}:steps", run_id=run_id)
    freshness = measure_freshness(catalog, settings, run_id, now)
    write(catalog, ops.SOURCE_FRESHNESS, freshness, batch_id=f"{run_id}:freshness", run_id=run_id)
    settle(catalog, STEP_FAILED, failed_steps(marks), run_id=run_id)
    settle(catalog, REPLICATION_LAG, lagging_feeds(freshness), run_id=run_id)
    settle(catalog, SCHEMA_DRIFT, drifted_feeds(catalog), run_id=run_id)
    settle(catalog, COST, over_budget(steps, settings), run_id=run_id)
    alerts = recorded_by(catalog, run_id)
    route(settings, alerts)
    return Observation(steps, freshness, alerts)


def check_partitions(settings: Settings, run_id: str) -> list[str]:
    """Alert on the daily deliveries raw lacks; the staging tables whose models they block."""
    catalog = open_catalog(settings)
    missing = find_missing(catalog, settings)
    settle(catalog, MISSING_PARTITION, missing_partitions(missing), run_id=run_id)
    return blocked_tables(missing)


@task(cache_policy=NO_CACHE)
def partitions_task(settings: Settings, run_id: str) -> list[str]:
    """Check every daily file delivery landed; the staging tables whose models must wait."""
    blocked = check_partitions(settings, run_id)
    if blocked:
        get_run_logger().warning("missing daily partitions block %s", ", ".join(blocked))
    return blocked


@task(cache_policy=NO_CACHE)
def observe_task(settings: Settings, run_id: str, marks: list[StepMark]) -> Observation:
    """Record the run's steps and freshness in `ops`, evaluate the alert rules, route alerts."""
    observation = observe(settings, run_id, marks)
    logger = get_run_logger()
    for alert in observation.alerts.iter_rows(named=True):
        logger.warning("alert %s: %s %s", alert["status"], alert["rule"], alert["subject"])
    logger.info(
        "%d steps, %d feeds observed; %d alerts raised or resolved",
        observation.steps.height,
        observation.freshness.height,
        observation.alerts.height,
    )
    return observation
