"""The whole pipeline through the real CLI, checked from the outside with plain pyiceberg,
and through the API and UI of the Prefect server its runs report to.

Every `c360 run` here reports to the session's Prefect server (`c360 ui`): none pays for a
temporary server of its own, and what Prefect recorded can be checked too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest
from PIL import Image
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterId,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, Log, StateType, TaskRun

from c360.settings import REPO_ROOT
from flows.stage import STAGED
from simulator.truth import read_manifest
from tests.headless_chromium import browse
from tests.pipeline_checks import (
    CUSTOMER_TABLES,
    RAW_TABLES,
    Lakehouse,
    c360,
    check_a_second_run_adds_no_rows,
    check_curated_values_are_the_sources_values_normalised,
    check_every_feed_meets_its_data_quality_slos,
    check_every_identified_record_resolves_to_one_customer,
    check_every_source_family_lands_what_was_emitted,
    check_every_zone_holds_every_emitted_customer_once,
    check_ops_records_the_run_and_its_writes,
    check_the_zone_namespaces_exist,
    ran,
    run_tiny,
)
from tests.prefect_server import PrefectServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer) -> Lakehouse:
    """A home after one `c360 run --scale tiny`, reported to the session's Prefect server."""
    home = tmp_path_factory.mktemp("e2e")
    return run_tiny(home, env={"C360_PREFECT_API_URL": prefect_server.api_url})


@pytest.fixture(scope="module")
def rerun(lakehouse: Lakehouse) -> tuple[dict[str, int], dict[str, int | None]]:
    """Run the pipeline a second time on the same home; what the tables held before."""
    counts = {name: lakehouse.rows(name).height for name in [*CUSTOMER_TABLES, *RAW_TABLES]}
    snapshots = lakehouse.snapshot_ids()
    ran(c360(lakehouse.home, "run", "--scale", "tiny", env=lakehouse.env))
    return counts, snapshots


def test_the_zone_namespaces_exist(lakehouse: Lakehouse) -> None:
    check_the_zone_namespaces_exist(lakehouse)


def test_every_zone_holds_every_emitted_customer_once(lakehouse: Lakehouse) -> None:
    check_every_zone_holds_every_emitted_customer_once(lakehouse)


def test_every_source_family_lands_what_was_emitted(lakehouse: Lakehouse) -> None:
    check_every_source_family_lands_what_was_emitted(lakehouse)


def test_curated_values_are_the_sources_values_normalised(lakehouse: Lakehouse) -> None:
    check_curated_values_are_the_sources_values_normalised(lakehouse)


def test_ops_records_the_run_and_its_writes(lakehouse: Lakehouse) -> None:
    check_ops_records_the_run_and_its_writes(lakehouse)


def test_a_second_run_adds_no_rows(
    lakehouse: Lakehouse, rerun: tuple[dict[str, int], dict[str, int | None]]
) -> None:
    check_a_second_run_adds_no_rows(lakehouse, *rerun)


def test_another_seed_on_the_same_home_is_one_clear_error(lakehouse: Lakehouse) -> None:
    runs_before = lakehouse.rows("ops.pipeline_runs").height

    result = c360(lakehouse.home, "run", "--scale", "tiny", "--seed", "7", env=lakehouse.env)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    # One line, even on an 80-column terminal: the whole message and the way out.
    assert "seed 42 at scale tiny" in errors[0]
    assert errors[0].endswith("to start a new world")
    assert "Traceback" not in result.stderr + result.stdout
    assert lakehouse.rows("ops.pipeline_runs").height == runs_before


def test_every_feed_meets_its_data_quality_slos_on_a_clean_run(lakehouse: Lakehouse) -> None:
    check_every_feed_meets_its_data_quality_slos(lakehouse)


def test_every_identified_record_resolves_to_one_customer_measured_against_the_truth(
    lakehouse: Lakehouse, rerun: tuple[dict[str, int], dict[str, int | None]]
) -> None:
    # After the rerun: it had nothing new to resolve, so nothing was measured twice.
    check_every_identified_record_resolves_to_one_customer(lakehouse)


# --- What Prefect recorded ----------------------------------------------------------------

# Every subflow of a pipeline run, and the flow that calls it.
SUBFLOW_PARENTS = {
    "ingest": "c360-pipeline",
    "ingest-db": "ingest",
    "ingest-stream": "ingest",
    "ingest-files": "ingest",
    "ingest-tickets": "ingest",
    "stage": "c360-pipeline",
    "model": "c360-pipeline",
    "publish": "c360-pipeline",
}
# The tasks (by function name) each flow of a pipeline run runs at least.
FLOW_TASKS = {
    "c360-pipeline": {
        "prepare_lakehouse",
        "simulate_task",
        "resolve_task",
        "quality_task",
        "record_run_task",
    },
    "ingest": set(),
    "ingest-db": {"ingest_database"},
    "ingest-stream": {"ingest_clickstream"},
    "ingest-files": {"ingest_feed_task"},
    "ingest-tickets": {"ingest_tickets_task"},
    "stage": {"stage_task"},
    "model": {"dbt_build"},
    "publish": {"publish_task"},
}
FINAL_STATES = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
# Task runs reach the server as events, recorded a moment after the run that sent them ended.
SETTLE_TIMEOUT_S = 60
# The window, and enough virtual time for the UI to fetch the run and draw its graph.
WINDOW = "1440,900"
UI_DRAW_MS = 20_000
# Set to a path (e.g. docs/prefect-flow-run.png; `just screenshot` does) to keep the capture.
# Not a C360_ variable: the tests run without those.
DOCS_SCREENSHOT_ENV = "DOCS_SCREENSHOT"
PREFECT_COMPLETED_GREEN = (33, 157, 75)


@dataclass(frozen=True)
class PrefectRecord:
    """What the Prefect server holds about one pipeline run: the run, its subflow runs at
    every depth, their task runs and their logs."""

    pipeline: FlowRun
    flow_runs: list[FlowRun]  # the pipeline's first
    flow_names: dict[UUID, str]  # by flow id
    task_runs: list[TaskRun]
    logs: list[Log]

    def flow_of(self, run: FlowRun) -> str:
        return self.flow_names[run.flow_id]

    def run_of(self, flow: str) -> FlowRun:
        [run] = [r for r in self.flow_runs if self.flow_of(r) == flow]
        return run

    def subflow_calls(self) -> set[UUID]:
        """The task runs that stand for a subflow call in their parent flow run."""
        return {r.parent_task_run_id for r in self.flow_runs if r.parent_task_run_id}

    def tasks_of(self, flow: str) -> list[TaskRun]:
        """The task runs of `flow`'s run, subflow calls left out."""
        run, calls = self.run_of(flow), self.subflow_calls()
        return [t for t in self.task_runs if t.flow_run_id == run.id and t.id not in calls]

    def logs_of(self, task_run: TaskRun) -> list[str]:
        return [log.message for log in self.logs if log.task_run_id == task_run.id]

    def settled(self) -> bool:
        """Every run is final, every flow's known tasks are recorded, and so are the logs."""
        states = [r.state_type for r in self.flow_runs] + [t.state_type for t in self.task_runs]
        return (
            all(state in FINAL_STATES for state in states)
            and set(map(self.flow_of, self.flow_runs)) == set(FLOW_TASKS)
            and all(
                FLOW_TASKS[flow] <= {task_function(t) for t in self.tasks_of(flow)}
                for flow in FLOW_TASKS
            )
            and any(
                log.flow_run_id == self.pipeline.id
                and log.task_run_id is None
                and log.message.startswith("Finished in state")
                for log in self.logs
            )
        )


def task_function(task_run: TaskRun) -> str:
    """The name of the function a task run ran: its task key is `<qualname>-<code hash>`."""
    return task_run.task_key.rsplit("-", 1)[0]


def read_pipeline_record(client: SyncPrefectClient, run_id: str) -> PrefectRecord:
    """Read what the server holds about the pipeline run of c360 run `run_id`."""
    pipelines = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=["c360-pipeline"]))
    )
    [pipeline] = [r for r in pipelines if r.parameters.get("run_id") == run_id]
    flow_runs, parents = [pipeline], [pipeline.id]
    while parents:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parents)
            )
        )
        flow_runs += children
        parents = [r.id for r in children]
    ids = [r.id for r in flow_runs]
    flows = client.read_flows(
        flow_filter=FlowFilter(id=FlowFilterId(any_=list({r.flow_id for r in flow_runs})))
    )
    return PrefectRecord(
        pipeline=pipeline,
        flow_runs=flow_runs,
        flow_names={f.id: f.name for f in flows},
        task_runs=client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
        ),
        logs=client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids))),
    )


@pytest.fixture(scope="module")
def first_run_in_prefect(lakehouse: Lakehouse, prefect_server: PrefectServer) -> PrefectRecord:
    """What the Prefect server recorded of the lakehouse's first run, once it all arrived."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    with prefect_server.client() as client:
        record = read_pipeline_record(client, lakehouse.first_run_id())
        while not record.settled() and time.monotonic() < deadline:
            time.sleep(0.5)
            record = read_pipeline_record(client, lakehouse.first_run_id())
    return record


def test_prefect_holds_the_pipeline_run_and_its_subflow_runs_completed(
    lakehouse: Lakehouse, first_run_in_prefect: PrefectRecord
) -> None:
    record = first_run_in_prefect
    pipeline = record.pipeline

    assert pipeline.parameters["run_id"] == lakehouse.first_run_id()
    assert pipeline.parameters["advance_days"] == 0
    assert pipeline.parent_task_run_id is None
    assert Counter(map(record.flow_of, record.flow_runs)) == Counter(
        ["c360-pipeline", *SUBFLOW_PARENTS]
    )
    assert {record.flow_of(r): (r.state_type, r.state_name) for r in record.flow_runs} == (
        dict.fromkeys(["c360-pipeline", *SUBFLOW_PARENTS], (StateType.COMPLETED, "Completed"))
    )
    # Each subflow run was called from a task run of its parent flow's run.
    calls = {t.id: t.flow_run_id for t in record.task_runs if t.flow_run_id}
    runs = {r.id: record.flow_of(r) for r in record.flow_runs}
    called_from = {
        record.flow_of(r): runs[calls[r.parent_task_run_id]]
        for r in record.flow_runs
        if r.parent_task_run_id
    }
    assert called_from == SUBFLOW_PARENTS


def test_prefect_holds_every_task_run_of_the_pipeline_completed(
    first_run_in_prefect: PrefectRecord,
) -> None:
    record = first_run_in_prefect

    assert record.task_runs
    assert {(t.name, t.state_type, t.state_name) for t in record.task_runs} == {
        (t.name, StateType.COMPLETED, "Completed") for t in record.task_runs
    }
    for flow, tasks in FLOW_TASKS.items():
        assert {task_function(t) for t in record.tasks_of(flow)} >= tasks, flow
    # One staging task run per staged table, named for it.
    assert sorted(t.name for t in record.tasks_of("stage")) == sorted(
        f"stage-{name}" for name in STAGED
    )
    assert {t.name for t in record.tasks_of("ingest-db")} == {"ingest-db-crm", "ingest-db-orders"}


def test_prefect_holds_the_runs_logs_with_what_they_measured(
    lakehouse: Lakehouse, first_run_in_prefect: PrefectRecord
) -> None:
    record = first_run_in_prefect
    run_id = lakehouse.first_run_id()
    messages = [log.message for log in record.logs]

    assert f"Beginning flow run {record.pipeline.name!r} for flow 'c360-pipeline'" in messages
    for flow in SUBFLOW_PARENTS:
        started = f"Beginning subflow run {record.run_of(flow).name!r} for flow {flow!r}"
        assert started in messages, flow
    # The tasks' own log lines carry the numbers the ops zone recorded.
    [quality] = [t for t in record.tasks_of("c360-pipeline") if task_function(t) == "quality_task"]
    results = lakehouse.rows("ops.dq_results").filter(pl.col("run_id") == run_id)
    measured = results.filter(pl.col("passed").is_not_null()).height
    assert f"{measured} SLOs measured, 0 missed" in record.logs_of(quality)
    [resolve] = [t for t in record.tasks_of("c360-pipeline") if task_function(t) == "resolve_task"]
    metrics = lakehouse.rows("ops.identity_metrics")
    overall = metrics.filter((pl.col("run_id") == run_id) & (pl.col("scope") == "all"))
    precision = overall["precision"].item()
    assert any(
        m.startswith(f"identity resolution vs truth: precision {precision:.4f},")
        for m in record.logs_of(resolve)
    ), record.logs_of(resolve)


def test_the_prefect_ui_draws_the_pipeline_run_page(
    first_run_in_prefect: PrefectRecord, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    pipeline = first_run_in_prefect.pipeline
    page = prefect_server.flow_run_page(pipeline.id)
    png = tmp_path / "flow-run.png"

    dom = browse(page, tmp_path / "dom-profile", "--dump-dom", window=WINDOW, budget_ms=UI_DRAW_MS)
    browse(page, tmp_path / "profile", f"--screenshot={png}", window=WINDOW, budget_ms=UI_DRAW_MS)

    # The page shows this run (its name, its flow and its state), not a loading screen.
    assert pipeline.name in dom
    assert "c360-pipeline" in dom
    assert "Completed" in dom
    with Image.open(png) as image:
        pixels = image.convert("RGB")
    assert pixels.size == (1440, 900)
    colours = pixels.getcolors(maxcolors=pixels.width * pixels.height)
    assert colours is not None
    counts = {colour: count for count, colour in colours}
    area = pixels.width * pixels.height
    # Drawn: text, icons and the graph make many colours, none covering most of the page.
    assert len(counts) > 200
    assert max(counts.values()) < 0.8 * area
    # The run graph's completed nodes (and the state badge) in Prefect's green.
    assert counts.get(PREFECT_COMPLETED_GREEN, 0) > 0.005 * area
    if keep := os.environ.get(DOCS_SCREENSHOT_ENV):
        target = REPO_ROOT / keep
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)


# Advances the world: keep it after every test but replay's.
def test_days_run_the_pipeline_once_per_new_day_with_each_runs_time(
    lakehouse: Lakehouse, rerun: tuple[dict[str, int], dict[str, int | None]]
) -> None:
    runs_before = lakehouse.rows("ops.pipeline_runs").height

    advanced = c360(lakehouse.home, "run", "--scale", "tiny", "--days", "2", env=lakehouse.env)

    ran(advanced)
    runs = lakehouse.rows("ops.pipeline_runs").sort("started_at")
    assert runs.height == runs_before + 2
    new_runs = runs["run_id"].tail(2).to_list()
    for run_id, day in zip(new_runs, (1, 2), strict=True):
        assert f"run {run_id}: day {day} in " in advanced.stdout
    assert "runs, one per simulated day" in advanced.stdout
    # Each day's CRM changes reached the curated zone: staging and curated agree again.
    staged = lakehouse.rows("staging.crm_customers")
    assert lakehouse.rows("curated.customers").height == staged.height
    assert read_manifest(lakehouse.settings.sources_dir / "truth")["day"].max() == 2
    # `c360 runs` lists them, newest first.
    listed = c360(lakehouse.home, "runs", "--limit", "2", env=lakehouse.env)
    ran(listed)
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == new_runs[::-1]
    assert all(" completed " in line for line in lines[1:])


def test_each_run_records_what_it_read_and_what_it_left(lakehouse: Lakehouse) -> None:
    first = lakehouse.first_run_id()
    run = lakehouse.rows("ops.pipeline_runs").filter(pl.col("run_id") == first)
    assert json.loads(run["parameters"][0]) == {
        "advance_days": 0,
        "world_day": 0,
        "engine": "polars",
        "dbt_target": "dev",
        "paused": [],
    }
    manifest = lakehouse.rows("ops.run_snapshots").filter(pl.col("run_id") == first)
    written: dict[str, set[int]] = {}
    for name, snapshot_id in (
        lakehouse.rows("ops.table_writes")
        .filter(pl.col("run_id") == first)
        .select("table_name", "snapshot_id")
        .iter_rows()
    ):
        written.setdefault(name, set()).add(snapshot_id)
    read = dict(
        manifest.filter(pl.col("role") == "read").select("table_name", "snapshot_id").rows()
    )
    left = dict(
        manifest.filter(pl.col("role") == "result").select("table_name", "snapshot_id").rows()
    )
    # Staging read the raw snapshots this run's ingestion committed; nothing came before.
    assert {name for name in read if name.startswith("raw.")} == set(RAW_TABLES)
    for name in RAW_TABLES:
        assert read[name] in written[name], name
    assert read["staging.customer_xref"] is None
    assert read["curated.dim_customer"] is None
    # It left every staging and curated table at the snapshot it wrote.
    assert {name.split(".")[0] for name in left} == {"staging", "curated"}
    assert len(left) == len(STAGED) + 2 + len(lakehouse.catalog().list_tables("curated"))
    for name, snapshot_id in left.items():
        assert snapshot_id in written[name], name


def test_replay_rebuilds_a_past_run_exactly(lakehouse: Lakehouse) -> None:
    runs = lakehouse.rows("ops.pipeline_runs").sort("started_at")
    days = [json.loads(p)["world_day"] for p in runs["parameters"]]
    # A later day's run: it built on the keys and SCD2 history of the runs before it, and
    # the lakehouse has moved on since.
    replayed = runs["run_id"][days.index(1)] if 1 in days else runs["run_id"][-1]

    result = c360(lakehouse.home, "replay", replayed, env=lakehouse.env)

    ran(result)
    tables = len(STAGED) + 2 + len(lakehouse.catalog().list_tables("curated"))
    assert f"{tables} of {tables} tables equal" in result.stdout
    assert f"run {replayed} reproduced exactly" in result.stdout
    assert not (lakehouse.home / "replay" / replayed).exists()  # no --keep: cleaned up
    unknown = c360(lakehouse.home, "replay", "no-such-run", env=lakehouse.env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: no run no-such-run in ops.pipeline_runs (see `c360 runs`)"
    )
