"""A step run beside the next ones (`RunSteps.beside`), on a real (SQLite) lakehouse: its
time, its commits and its failure are its own, however its time overlaps another step's,
and a Prefect task it calls belongs to the flow run that started it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import polars as pl
import pytest
from prefect import flow, task
from prefect.context import get_run_context

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.reader import equals, read_rows
from catalog.registry import ensure_all
from catalog.tables import ops
from catalog.writer import write
from flows.observe.record import observe
from flows.observe.steps import RunSteps, StepMark

CLAIMED = ops.SCHEMA_CHANGES.identifier_name


def _commit(settings: Settings, run_id: str, step: str) -> None:
    """A commit of `step` in `run_id`: a row in ops.table_writes."""
    row = pl.DataFrame(
        {
            "run_id": [run_id],
            "table_name": step,
            "rows_written": 1,
            "batch_id": step,
            "written_at": datetime.now(UTC),
        }
    )
    write(open_catalog(settings), ops.TABLE_WRITES, row, batch_id=step, run_id=run_id)


def _claimed_commit(settings: Settings, run_id: str) -> int:
    """A commit to the table only the quality step writes: 2 rows in ops.schema_changes."""
    rows = pl.DataFrame(
        {
            "table_name": "raw.crm_customers",
            "column_name": ["a", "b"],
            "change": "added",
            "detected_at": datetime.now(UTC),
            "batch_id": "b",
            "detail": None,
        },
        schema_overrides={"detail": pl.String},
    )
    write(open_catalog(settings), ops.SCHEMA_CHANGES, rows, batch_id="q", run_id=run_id)
    return rows.height


def test_a_step_beside_another_keeps_its_own_time_and_commits(settings: Settings) -> None:
    ensure_all(open_catalog(settings))
    steps = RunSteps(on_failure=print)
    model_started = threading.Event()

    def measure() -> int:
        model_started.wait(10)  # so the two steps' times overlap for certain
        return _claimed_commit(settings, "run-1")

    with steps.step("resolve"):
        _commit(settings, "run-1", "resolve")
    measuring = steps.beside("quality", measure, tables=(CLAIMED,))
    with steps.step("model"):
        model_started.set()
        assert measuring.result(timeout=30) == 2
        _commit(settings, "run-1", "model")
    observe(settings, "run-1", steps.marks)

    marks = {m.step: m for m in steps.marks}
    assert marks["quality"].started_at < marks["model"].started_at < marks["quality"].finished_at
    assert marks["quality"].finished_at <= marks["model"].finished_at
    recorded = read_rows(open_catalog(settings), ops.RUN_STEPS, equals("run_id", "run-1"))
    # In the order the steps started; of the two commits made in the model step's time,
    # the one to the table quality claims is quality's alone.
    assert recorded.select("step", "rows_out", "snapshots_created").rows() == [
        ("resolve", 1, 1),
        ("quality", 2, 1),
        ("model", 1, 1),
    ]


def test_a_failing_step_beside_another_is_marked_failed_and_raises_its_error(
    settings: Settings,
) -> None:
    seen: list[list[StepMark]] = []

    def measure() -> int:
        raise ConnectionError("catalog went away")

    steps = RunSteps(on_failure=seen.append)
    measuring = steps.beside("quality", measure, tables=(CLAIMED,))

    with pytest.raises(ConnectionError, match="catalog went away"):
        measuring.result(timeout=30)
    [mark] = steps.marks
    assert (mark.step, mark.status, mark.error) == (
        "quality",
        "failed",
        "ConnectionError: catalog went away",
    )
    assert seen == [[mark]]


@task
def _task_flow_run() -> object:
    return get_run_context().task_run.flow_run_id  # type: ignore[union-attr]


@flow
def _two_steps() -> tuple[object, object]:
    steps = RunSteps(on_failure=print)
    beside = steps.beside("quality", _task_flow_run, tables=())
    return beside.result(timeout=60), get_run_context().flow_run.id  # type: ignore[union-attr]


def test_a_task_called_by_a_step_beside_another_belongs_to_the_flow_run() -> None:
    from_task, flow_run = _two_steps()

    assert from_task == flow_run
