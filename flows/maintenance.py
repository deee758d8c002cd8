"""Maintenance: every declared table compacted, its old snapshots expired and the files no
snapshot needs deleted (`catalog.maintenance`), one task per table. Served daily at
`DAILY_CRON`; `c360 maintain` runs it once.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from c360.settings import Settings, load_settings
from catalog.factory import open_catalog
from catalog.maintenance import (
    TableReport,
    check_locations,
    declared_tables,
    maintain_table,
    pinned_snapshots,
)

FLOW_NAME = "c360-maintenance"
# Daily at 03:00 (the schedule's time zone, UTC by default), outside the pipeline's runs.
DAILY_CRON = "0 3 * * *"


class MaintenanceFailedError(RuntimeError):
    """Maintenance of some tables failed; the message names them (the others were done)."""


@task(retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def plan_task(settings: Settings) -> dict[str, list[int]]:
    """The declared tables that exist, each with the snapshots readers of other tables
    resume from (staging's consumed raw snapshots), which expiry must keep."""
    catalog = open_catalog(settings)
    tables = declared_tables(catalog)
    check_locations(catalog, tables)
    pins = pinned_snapshots(tables)
    return {name: sorted(pins.get(name, ())) for name in tables}


@task(retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE, task_run_name="maintain-{name}")
def maintain_task(settings: Settings, name: str, pinned: list[int]) -> TableReport:
    """Compact one table, expire its old snapshots and delete its unreferenced files."""
    table = open_catalog(settings).load_table(name)
    report = maintain_table(table, settings.maintenance, pinned=pinned)
    get_run_logger().info(report.describe())
    return report


@flow(name=FLOW_NAME)
def maintenance_flow(settings: Settings | None = None) -> list[TableReport]:
    """Maintain every table of the lakehouse; a table that fails does not stop the others.

    Args:
        settings: the lakehouse and `maintenance` settings; None loads them from the
            environment (a scheduled run).

    Raises:
        MaintenanceFailedError: some tables failed (after their retry).
    """
    settings = settings or load_settings()
    plan = plan_task(settings)
    states = {
        name: maintain_task(settings, name, pins, return_state=True) for name, pins in plan.items()
    }
    failed = sorted(name for name, state in states.items() if not state.is_completed())
    if failed:
        raise MaintenanceFailedError(
            f"maintenance failed for {', '.join(failed)}: see the task logs"
        )
    reports = [state.result() for state in states.values()]
    logger = get_run_logger()
    changed = sum(r.changed for r in reports)
    logger.info("maintained %d tables, %d changed", len(reports), changed)
    return reports
