"""The whole pipeline: simulate, ingest, stage, resolve, model, publish, record.
`c360 run` is this."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_all
from catalog.run_log import RunRecord, TableSnapshot, record_run
from catalog.writer import WriteResult
from flows import manifest
from flows.heartbeats import parent_heartbeat_only
from flows.ingest import ingest_flow
from flows.model import model_flow
from flows.observe.record import observe_task, partitions_task
from flows.observe.steps import RunSteps
from flows.publish import publish_flow
from flows.quality import DqResult, quality_task
from flows.resolve import ResolveOutcome, resolve_task
from flows.stage import StageOutcome, stage_flow
from simulator.emitters.database import connect
from simulator.world import SimulationReport, check_world, simulate


@dataclass(frozen=True)
class PipelineResult:
    run_id: str
    simulation: SimulationReport
    writes: list[WriteResult] = field(default_factory=list)
    staged: list[StageOutcome] = field(default_factory=list)
    quality: list[DqResult] = field(default_factory=list)
    dbt_nodes: int = 0
    identity: ResolveOutcome | None = None


@task(cache_policy=NO_CACHE)
def simulate_task(settings: Settings, days: int = 0) -> SimulationReport:
    """Advance the simulated world `days` days (0: make sure day 0 exists) and emit it
    into every source system."""
    return simulate(settings, days=days)


@task(cache_policy=NO_CACHE)
def prepare_lakehouse(settings: Settings) -> list[str]:
    """Create the zone namespaces and every declared table where missing."""
    return sorted(ensure_all(open_catalog(settings)))


@task(cache_policy=NO_CACHE)
def prior_state_task(settings: Settings) -> list[TableSnapshot]:
    """The snapshots of the state this run builds on (customer keys, SCD2 history)."""
    return manifest.prior_state(open_catalog(settings))


@task(cache_policy=NO_CACHE)
def raw_read_task(settings: Settings) -> list[TableSnapshot]:
    """The raw snapshots this run's staging consumed (taken right after it, before any
    other staging run on the lakehouse can move them on)."""
    return manifest.raw_read(open_catalog(settings))


@task(cache_policy=NO_CACHE)
def record_run_task(
    settings: Settings,
    run: RunRecord,
    writes: list[WriteResult],
) -> None:
    """Write the run, its commits and its manifest to the `ops` zone: what it read (in
    `run.manifest`) and every staging and curated table as it leaves them."""
    catalog = open_catalog(settings)
    read_and_left = [*run.manifest, *manifest.results(catalog)]
    record_run(catalog, settings, replace(run, manifest=read_and_left), writes)


def run_parameters(
    settings: Settings, advance_days: int, simulation: SimulationReport, paused: list[str]
) -> dict[str, object]:
    """What a run was asked to do and found, as its manifest records it (`c360 replay`
    reads it)."""
    return {
        "advance_days": advance_days,
        "world_day": simulation.day,
        "engine": settings.engine,
        "dbt_target": settings.dbt_target,
        "paused": paused,
    }


def preflight(settings: Settings) -> None:
    """Fail fast, before any flow starts, if a service is missing or the world differs.

    Raises:
        CatalogUnavailableError, SourceUnavailableError, WorldMismatchError: one clear line.
    """
    open_catalog(settings).list_namespaces()
    sources = settings.resolved_sources()
    assert sources.crm_url, "every profile names a CRM database"
    connect(sources.crm_url).dispose()
    check_world(settings)


@flow(name="c360-pipeline")
def pipeline(settings: Settings, run_id: str, advance_days: int = 0) -> PipelineResult:
    """Sources to curated tables, end to end, on the settings' profile, after advancing
    the simulated world `advance_days` days."""
    with parent_heartbeat_only():
        started_at = datetime.now(UTC)
        # Each step's time and outcome, for `ops.run_steps`; a failing one is recorded and alerted.
        steps = RunSteps(lambda marks: observe_task(settings, run_id, marks))
        prepare_lakehouse(settings)
        prior = prior_state_task(settings)
        with steps.step("simulate"):
            simulation = simulate_task(settings, advance_days)
        with steps.step("ingest"):
            writes = ingest_flow(settings, run_id)
        blocked = partitions_task(settings, run_id)
        with steps.step("stage"):
            staged = stage_flow(settings, run_id)
        read = [*prior, *raw_read_task(settings)]
        writes += [w for outcome in staged for w in outcome.writes]
        with steps.step("resolve"):
            identity = resolve_task(settings, run_id)
        writes += identity.writes
        with steps.step("quality"):
            quality = quality_task(settings, run_id)
        paused = [o.table for o in staged if o.status == "paused"]
        paused += [t for t in blocked if t not in paused]
        with steps.step("model"):
            dbt_nodes = model_flow(settings, paused)
        # A dev build's marts are in DuckDB and become the curated tables; prod's stay in
        # Snowflake, where its readers are.
        with steps.step("publish"):
            if settings.dbt_target == "dev":
                writes += publish_flow(settings, run_id)
        parameters = run_parameters(settings, advance_days, simulation, paused)
        run = RunRecord(run_id, "completed", started_at, datetime.now(UTC), parameters, read)
        with steps.step("record"):
            record_run_task(settings, run, writes)
        observe_task(settings, run_id, steps.marks)
        return PipelineResult(run_id, simulation, writes, staged, quality, dbt_nodes, identity)
