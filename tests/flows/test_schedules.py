"""`c360 deploy` against a real Prefect server: one deployment per latency tier on its
schedule, a scheduled run that lands the stream, and an on-demand run from the API."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from pyiceberg.catalog import load_catalog

from c360.settings import Settings, load_settings
from catalog.factory import catalog_properties
from flows.schedules import SCHEDULES
from simulator.truth import read_manifest
from tests.prefect_server import PrefectServer

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

pytestmark = pytest.mark.slow

CLI_MAIN = "from c360.cli import main; main()"
RUN_TIMEOUT_S = 180


@dataclass(frozen=True)
class Deployed:
    settings: Settings
    server: PrefectServer

    def rows(self, table: str) -> pl.DataFrame:
        catalog = load_catalog("c360", **catalog_properties(self.settings.resolved_catalog()))
        frame = pl.from_arrow(catalog.load_table(table).scan().to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def emitted(self, dataset_prefix: str) -> int:
        manifest = read_manifest(self.settings.sources_dir / "truth")
        return int(manifest.filter(pl.col("dataset").str.starts_with(dataset_prefix))["rows"].sum())


def _c360(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("c360")
    return [*([str(script)] if script.exists() else [sys.executable, "-c", CLI_MAIN]), *args]


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer
) -> Iterator[Deployed]:
    """A simulated `tiny` world (nothing ingested) with `c360 deploy` serving it."""
    home = tmp_path_factory.mktemp("deployed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "PREFECT_"))}
    env |= {
        "C360_HOME": str(home),
        "C360_SCALE": "tiny",
        "C360_PREFECT_API_URL": prefect_server.api_url,
    }
    subprocess.run(_c360("simulate"), cwd=home, env=env, check=True, capture_output=True)
    log = home / "deploy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _c360("deploy"),
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Deployed(load_settings(home=home, scale="tiny"), prefect_server)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        print(log.read_text(errors="replace")[-2000:])


def _run_now(server: PrefectServer, deployment: str) -> FlowRun:
    """Run `deployment` now, as the UI's "Quick run" does, and wait for it to finish."""
    with server.client() as client:
        run = client.create_flow_run_from_deployment(client.read_deployment_by_name(deployment).id)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not (run.state and run.state.is_final()) and time.monotonic() < deadline:
            time.sleep(1)
            run = client.read_flow_run(run.id)
    return run


def test_every_tier_is_a_deployment_on_its_schedule(deployed: Deployed) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    with deployed.server.client() as client:
        while True:
            found = {d.name: d for d in client.read_deployments()}
            if set(found) >= {s.name for s in SCHEDULES} or time.monotonic() > deadline:
                break
            time.sleep(1)
    schedules = {
        name: [s.schedule.model_dump(mode="json", exclude_none=True) for s in d.schedules]
        for name, d in found.items()
        if name in {s.name for s in SCHEDULES}
    }
    assert {name: [_when(s) for s in found] for name, found in schedules.items()} == {
        "stream-ingest": ["every 60 s"],
        "batch-ingest": ["0 * * * *"],
        "staging": ["30 * * * *"],
        "curated": ["45 */3 * * *"],
        "maintenance": ["0 3 * * *"],
        "pipeline": [],
    }


def _when(schedule: dict[str, object]) -> str:
    return str(schedule["cron"]) if "cron" in schedule else f"every {schedule['interval']:g} s"


def test_the_stream_is_scheduled_every_minute_and_lands_every_event_on_demand(
    deployed: Deployed,
) -> None:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    deadline = time.monotonic() + RUN_TIMEOUT_S
    starts: list[datetime] = []
    with deployed.server.client() as client:
        # The server's scheduler creates a deployment's runs on its next loop.
        while len(starts) < 3 and time.monotonic() < deadline:
            time.sleep(1)
            scheduled = client.read_flow_runs(
                deployment_filter=DeploymentFilter(
                    name=DeploymentFilterName(any_=["stream-ingest"])
                )
            )
            starts = sorted(r.expected_start_time for r in scheduled if r.expected_start_time)
    assert len(starts) >= 3
    assert {(b - a).total_seconds() for a, b in itertools.pairwise(starts[:3])} == {60.0}
    run = _run_now(deployed.server, "tier-0-stream-ingest/stream-ingest")
    assert run.state is not None
    assert run.state.is_completed(), run.state
    assert deployed.rows("raw.clickstream_events").height == deployed.emitted("clickstream.events")


def test_batch_ingest_runs_on_demand_and_lands_the_crm(deployed: Deployed) -> None:
    run = _run_now(deployed.server, "tier-1-batch-ingest/batch-ingest")
    assert run.state is not None
    assert run.state.is_completed(), run.state
    crm = deployed.rows("raw.crm_customers")
    assert crm.height == deployed.emitted("crm.customers")
