"""Model: build the curated models with dbt (DuckDB in dev, Snowflake in prod)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from c360.settings import REPO_ROOT, Settings, settings_env
from catalog.factory import open_catalog
from flows.build_inputs import build_inputs, built_from, forget_built, record_built
from simulator.clock import day_start
from simulator.world import check_world

DBT_PROJECT = REPO_ROOT / "dbt"
FAILED = {"error", "fail"}


@dataclass(frozen=True)
class NodeResult:
    """How one dbt node (model, snapshot, test, ...) fared in a command."""

    node: str
    resource_type: str
    status: str
    seconds: float
    message: str


class DbtFailedError(RuntimeError):
    """A dbt command failed; the message lists the failing nodes, `nodes` has them all."""

    def __init__(self, message: str, nodes: list[NodeResult]) -> None:
        super().__init__(message)
        self.nodes = nodes


def dbt_vars(settings: Settings) -> dict[str, Any]:
    """The project variables a build gets from the world it models.

    `snapshot_at`, the end of the newest simulated day, is when the snapshots say a change
    took effect: a rebuild of the same data, on any target, dates every version the same.
    Without a simulated world (real sources) dbt falls back to the current time.
    """
    world = check_world(settings)
    return {} if world is None else day_vars(world.day)


def day_vars(day: int) -> dict[str, Any]:
    """The project variables of a build modelling simulated `day`."""
    return {"snapshot_at": day_start(day + 1).isoformat()}


def variables_env(variables: dict[str, Any]) -> dict[str, str]:
    """The project variables as the environment variables the project reads them from
    (`snapshot_at` -> `C360_SNAPSHOT_AT`, read by `dbt/macros/snapshot_get_time.sql`).

    Not dbt `--vars`: dbt re-parses the whole project whenever those change, and
    `snapshot_at` changes every simulated day.
    """
    return {f"C360_{name.upper()}": str(value) for name, value in variables.items()}


def run_dbt(
    settings: Settings,
    command: list[str],
    profiles_dir: Path = DBT_PROJECT,
    variables: dict[str, Any] | None = None,
) -> dbtRunnerResult:
    """Run a dbt command on the project in `dbt/` against the settings' target.

    Artifacts and logs go under `$C360_HOME/dbt`, never into the repository; the world's
    variables (`dbt_vars`, unless `variables` are given) are passed to every command, as
    environment variables (`variables_env`). The record of what the last build read
    (`flows/build_inputs.py`) is dropped first: the command changes the database.
    `profiles_dir` holds the `profiles.yml` to use (the project's own by default).

    Raises:
        DbtFailedError: the command failed (a model error or a failing test).
    """
    settings.dbt_dir.mkdir(parents=True, exist_ok=True)
    args = [
        *command,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(profiles_dir),
        "--target",
        settings.dbt_target,
        "--target-path",
        str(settings.dbt_dir / "target"),
        "--log-path",
        str(settings.dbt_dir / "logs"),
    ]
    project_env = variables_env(dbt_vars(settings) if variables is None else variables)
    forget_built(settings)
    try:
        with _environment({"DO_NOT_TRACK": "1", **settings_env(settings), **project_env}):
            result = dbtRunner().invoke(args)
    finally:
        _release_duckdb()
    if not result.success:
        raise DbtFailedError(
            f"dbt {' '.join(command)} failed: {_failures(result)}", node_results(result)
        )
    return result


def node_results(result: dbtRunnerResult) -> list[NodeResult]:
    """Each node the command ran, in the order dbt finished them."""
    return [
        NodeResult(
            node=r.node.name,
            resource_type=str(r.node.resource_type),
            status=str(r.status),
            seconds=round(r.execution_time, 3),
            message=" ".join(str(r.message or "").split()),
        )
        for r in getattr(result.result, "results", [])
    ]


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    # dbt resolves env_var() in profiles.yml, and its lakehouse plugin loads settings, from
    # the process environment: it gets the settings in force for the command, and the
    # process gets its own environment back afterwards.
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _release_duckdb() -> None:
    # dbt-duckdb keeps one process-wide connection to the DuckDB file after a run; drop it
    # so the publish step (and readers in this process) can open the file read-only.
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def _failures(result: dbtRunnerResult) -> str:
    if result.exception is not None:
        return " ".join(str(result.exception).split())
    failed = [f"{n.node} ({n.status})" for n in node_results(result) if n.status in FAILED]
    return ", ".join(failed) or "see $C360_HOME/dbt/logs/dbt.log"


def excluding(paused_tables: Sequence[str]) -> list[str]:
    """dbt arguments leaving out of a pipeline build its unit tests and everything
    downstream of the paused staging tables (`staging.crm_customers` -> the source
    `lakehouse.crm_customers` and its children).

    Unit tests test the models' code on fixed rows, not the day's data: `c360 model` and
    the test suite run them (every `dbt build` without these arguments), a pipeline run
    does not pay for them every day.
    """
    selectors = [f"source:lakehouse.{t.removeprefix('staging.')}+" for t in paused_tables]
    return ["--exclude", "resource_type:unit_test", *selectors]


def publish_node_results(nodes: list[NodeResult]) -> None:
    """Show every node's result in the Prefect UI (a table artifact on the run) and log
    each failure by name."""
    logger = get_run_logger()
    for n in nodes:
        if n.status in FAILED:
            logger.error("dbt %s %s: %s (%s)", n.resource_type, n.node, n.status, n.message)
    failed = sum(n.status in FAILED for n in nodes)
    create_table_artifact(
        key="dbt-build",
        table=[asdict(n) for n in nodes],
        description=f"dbt build: {len(nodes)} nodes, {failed} failed or errored",
    )


@task(cache_policy=NO_CACHE)
def dbt_build(settings: Settings, paused_tables: Sequence[str] = ()) -> int:
    """`dbt build`: seeds, models, snapshots and tests, except what depends on a paused
    feed. Returns the number of nodes run; every node's result is shown on the run.

    On the dev target a build that would read what the last successful one read (the
    same staging snapshots, project and variables: `flows/build_inputs.py`) is skipped,
    and returns 0: its models and tests would come out as they are.
    """
    command = ["build", *excluding(paused_tables)]
    variables = dbt_vars(settings)
    inputs = None
    if settings.dbt_target == "dev":
        inputs = build_inputs(settings, DBT_PROJECT, command, variables_env(variables))
        if built_from(settings) == inputs:
            get_run_logger().info(
                "dbt build skipped: the last build read the same staging snapshots, "
                "project and variables"
            )
            return 0
    try:
        result = run_dbt(settings, command, variables=variables)
    except DbtFailedError as failure:
        publish_node_results(failure.nodes)
        raise
    if inputs is not None:
        record_built(settings, inputs)
    nodes = node_results(result)
    publish_node_results(nodes)
    return len(nodes)


def load_prod_sources(settings: Settings) -> dict[str, int]:
    """Load the staging tables into the prod target's Snowflake database, where its dbt
    sources live (dev reads them in place). Returns the rows loaded per table."""
    # The Snowflake connector takes seconds to import: only prod pays for it.
    from catalog import snowflake_load

    with closing(snowflake_load.connect(settings.snowflake)) as connection:
        return snowflake_load.load_staging(
            open_catalog(settings), connection, settings.snowflake.database
        )


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def load_snowflake_sources(settings: Settings) -> dict[str, int]:
    """Replace the prod target's staging tables with the lakehouse's."""
    return load_prod_sources(settings)


@flow(name="model")
def model_flow(settings: Settings, paused_tables: Sequence[str] = ()) -> int:
    """Build and test the dbt project on the settings' target (its sources loaded first
    on prod), skipping paused feeds' downstream models."""
    if settings.dbt_target == "prod":
        load_snowflake_sources(settings)
    return dbt_build(settings, paused_tables)
