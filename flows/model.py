"""Model: build the curated models with dbt (DuckDB in dev, Snowflake in prod)."""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from c360.settings import REPO_ROOT, Settings, settings_env

DBT_PROJECT = REPO_ROOT / "dbt"


class DbtFailedError(RuntimeError):
    """A dbt command failed; the message lists the failing nodes."""


def run_dbt(settings: Settings, command: list[str]) -> dbtRunnerResult:
    """Run a dbt command on the project in `dbt/` against the settings' target.

    Artifacts and logs go under `$C360_HOME/dbt`, never into the repository.

    Raises:
        DbtFailedError: the command failed (a model error or a failing test).
    """
    # dbt resolves env_var() in profiles.yml, and its lakehouse plugin loads settings, from
    # the process environment: hand it the settings in force.
    os.environ.update(settings_env(settings))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    settings.dbt_dir.mkdir(parents=True, exist_ok=True)
    args = [
        *command,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target",
        settings.dbt_target,
        "--target-path",
        str(settings.dbt_dir / "target"),
        "--log-path",
        str(settings.dbt_dir / "logs"),
    ]
    try:
        result = dbtRunner().invoke(args)
    finally:
        _release_duckdb()
    if not result.success:
        raise DbtFailedError(f"dbt {' '.join(command)} failed: {_failures(result)}")
    return result


def _release_duckdb() -> None:
    # dbt-duckdb keeps one process-wide connection to the DuckDB file after a run; drop it
    # so the publish step (and readers in this process) can open the file read-only.
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def _failures(result: dbtRunnerResult) -> str:
    if result.exception is not None:
        return " ".join(str(result.exception).split())
    failed = [
        f"{r.node.name} ({r.status})"
        for r in getattr(result.result, "results", [])
        if str(r.status) in {"error", "fail"}
    ]
    return ", ".join(failed) or "see $C360_HOME/dbt/logs/dbt.log"


def excluding(paused_tables: Sequence[str]) -> list[str]:
    """dbt arguments leaving out everything downstream of the paused staging tables
    (`staging.crm_customers` -> the source `lakehouse.crm_customers` and its children)."""
    selectors = [f"source:lakehouse.{t.removeprefix('staging.')}+" for t in paused_tables]
    return ["--exclude", *selectors] if selectors else []


@task(cache_policy=NO_CACHE)
def dbt_build(settings: Settings, paused_tables: Sequence[str] = ()) -> int:
    """`dbt build`: seeds, models, snapshots and tests, except what depends on a paused
    feed. Returns the number of nodes run."""
    result = run_dbt(settings, ["build", *excluding(paused_tables)])
    return len(getattr(result.result, "results", []))


@flow(name="model")
def model_flow(settings: Settings, paused_tables: Sequence[str] = ()) -> int:
    """Build and test the dbt project on the settings' target, skipping paused feeds'
    downstream models."""
    return dbt_build(settings, paused_tables)
