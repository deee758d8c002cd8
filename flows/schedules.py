"""The pipeline as deployments, one per latency tier of the seed's SLA table (1.2.1), each
on the schedule that meets its tier's SLA and runnable on demand from the Prefect UI.

| deployment | tier | schedule | SLA |
|---|---|---|---|
| stream-ingest | 0 streaming ingestion | every minute | <= 5 min |
| batch-ingest | 1 batch replication (databases, file drops, tickets) | hourly | <= 60 min |
| staging | 2 staging transforms (stage, resolve, quality) | hourly, at :30 | <= 90 min |
| curated | 3 curated models (dbt build, publish) | every 3 hours, at :45 | <= 3 h |
| maintenance | table upkeep | daily, 03:00 | - |
| pipeline | everything in order, advancing the simulated world | on demand only | - |

Scheduled runs take their settings from the environment of the process serving them
(`c360 deploy` passes its own on), so no setting or credential is stored in Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from prefect import Flow, flow
from prefect.deployments.runner import RunnerDeployment

from c360.run_ids import new_run_id
from c360.settings import load_settings
from flows.heartbeats import parent_heartbeat_only
from flows.ingest import Family, ingest_flow
from flows.maintenance import DAILY_CRON, maintenance_flow
from flows.model import model_flow
from flows.pipeline import pipeline
from flows.publish import publish_flow
from flows.quality import quality_task
from flows.resolve import resolve_task
from flows.stage import stage_flow


@flow(name="tier-0-stream-ingest")
def stream_ingest() -> int:
    """Land what the clickstream gained since the last checkpoint. Returns rows landed."""
    with parent_heartbeat_only():
        writes = ingest_flow(load_settings(), new_run_id(), [Family.STREAM])
    return sum(w.rows for w in writes if not w.skipped)


@flow(name="tier-1-batch-ingest")
def batch_ingest() -> int:
    """Replicate the source databases and land new file drops and tickets."""
    families = [Family.DB, Family.FILES, Family.TICKETS]
    with parent_heartbeat_only():
        writes = ingest_flow(load_settings(), new_run_id(), families)
    return sum(w.rows for w in writes if not w.skipped)


@flow(name="tier-2-staging")
def staging() -> int:
    """Stage what raw gained, resolve identities and measure the data-quality SLOs.
    Returns rows staged."""
    with parent_heartbeat_only():
        settings, run_id = load_settings(), new_run_id()
        staged = stage_flow(settings, run_id)
        resolve_task(settings, run_id)
        quality_task(settings, run_id)
        return sum(o.staged_rows for o in staged)


@flow(name="tier-3-curated")
def curated() -> int:
    """Build and test the dbt project, then publish the marts (dev target). Returns the
    dbt nodes run."""
    with parent_heartbeat_only():
        settings = load_settings()
        nodes = model_flow(settings)
        if settings.dbt_target == "dev":
            publish_flow(settings, new_run_id())
        return nodes


@flow(name="c360-pipeline-on-demand")
def pipeline_on_demand(advance_days: int = 1) -> str:
    """The whole pipeline once, after advancing the simulated world `advance_days` days.
    Returns the run id."""
    with parent_heartbeat_only():
        run_id = new_run_id()
        pipeline(load_settings(), run_id, advance_days)
        return run_id


@flow(name="c360-maintenance-scheduled")
def maintenance() -> int:
    """Maintain every table. Returns how many tables changed."""
    with parent_heartbeat_only():
        return sum(r.changed for r in maintenance_flow(load_settings()))


@dataclass(frozen=True)
class Schedule:
    """A deployment: its flow and when it runs (no interval and no cron: on demand)."""

    name: str
    flow: Flow[..., int] | Flow[..., str]
    tier: str
    interval: timedelta | None = None
    cron: str | None = None

    def deployment(self) -> RunnerDeployment:
        # `to_deployment` returns the deployment itself when called outside an event loop.
        return self.flow.to_deployment(  # type: ignore[return-value]
            name=self.name,
            interval=self.interval,
            cron=self.cron,
            description=f"{self.tier}. {self.flow.description}",
            tags=["c360", self.tier.split(" ")[0].lower()],
        )


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "stream-ingest",
        stream_ingest,
        "Tier 0 streaming ingestion (SLA 5 min)",
        interval=timedelta(minutes=1),
    ),
    Schedule(
        "batch-ingest", batch_ingest, "Tier 1 batch replication (SLA 60 min)", cron="0 * * * *"
    ),
    Schedule("staging", staging, "Tier 2 staging transforms (SLA 90 min)", cron="30 * * * *"),
    Schedule("curated", curated, "Tier 3 curated models (SLA 3 h)", cron="45 */3 * * *"),
    Schedule("maintenance", maintenance, "Maintenance", cron=DAILY_CRON),
    Schedule("pipeline", pipeline_on_demand, "On demand"),
)


def deployments() -> list[RunnerDeployment]:
    """Every schedule as a deployment, for `prefect.serve`."""
    return [s.deployment() for s in SCHEDULES]
