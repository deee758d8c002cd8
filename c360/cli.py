"""The `c360` command line: run the pipeline, simulate sources, inspect the lakehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from catalog.writer import WriteResult
    from flows.resolve import ResolveOutcome
    from flows.stage import StageOutcome

from c360.run_ids import new_run_id
from c360.settings import (
    FAULTS,
    ProfileName,
    Scale,
    Settings,
    load_settings,
    prefect_env,
    settings_env,
)


class Engine(StrEnum):
    POLARS = "polars"
    DUCKDB = "duckdb"
    SPARK = "spark"


app = typer.Typer(
    help="c360: a local-first Customer 360 lakehouse on Apache Iceberg.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True)

ProfileOption = Annotated[
    ProfileName | None,
    typer.Option("--profile", help="Deployment profile (default: C360_PROFILE or local)."),
]
ScaleOption = Annotated[
    Scale | None, typer.Option("--scale", help="World size (default: C360_SCALE or small).")
]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Simulation seed (default 42).")]
EngineOption = Annotated[
    Engine | None,
    typer.Option("--engine", help="Staging engine (default: C360_ENGINE or polars)."),
]


# dbt commands that read the sources: on prod they need staging loaded into Snowflake.
LOADING_COMMANDS = {"build", "run", "snapshot", "test"}
DEFAULT_PREFECT_API = "http://127.0.0.1:4200/api"  # where `just ui` serves it


class UserError(Exception):
    """An error the user can fix; shown as one line, no traceback."""


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"bad setting {where}: {first['msg']}") from exc
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(prefect_env(settings))
    return settings


def _known_errors() -> tuple[type[BaseException], ...]:
    from catalog.contracts import ContractError
    from catalog.contracts.drift import ContractMismatchError
    from catalog.factory import CatalogUnavailableError
    from catalog.writer import SchemaMismatchError
    from flows.model import DbtFailedError
    from flows.replay import ReplayError
    from flows.stage import StagingInvariantError
    from simulator.emitters.database import SourceUnavailableError
    from simulator.world import WorldMismatchError
    from transforms.engines import EngineUnavailableError

    return (
        UserError,
        CatalogUnavailableError,
        SourceUnavailableError,
        WorldMismatchError,
        DbtFailedError,
        SchemaMismatchError,
        ContractError,
        ContractMismatchError,
        StagingInvariantError,
        EngineUnavailableError,
        ReplayError,
    )


def main() -> None:
    """Entry point: run the app, turning known errors into one clear line."""
    try:
        app()
    except Exception as exc:
        # The known errors live in modules that import Prefect and dbt: only look them up
        # when something failed, so `--help` and quick commands stay fast.
        if not isinstance(exc, _known_errors()):
            raise
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise SystemExit(1) from None


@app.command()
def run(
    profile: ProfileOption = None,
    scale: ScaleOption = None,
    seed: SeedOption = None,
    engine: EngineOption = None,
    days: Annotated[
        int,
        typer.Option(
            min=0,
            help="Advance the simulated world N days, running the pipeline once per day "
            "(a new world runs its day 0 first).",
        ),
    ] = 0,
) -> None:
    """Run the whole pipeline: sources -> raw -> staging -> dbt -> curated."""
    settings = _settings(profile=profile, scale=scale, seed=seed, engine=engine)
    from flows.pipeline import pipeline, preflight
    from simulator.world import check_world

    preflight(settings)
    advances = [1] * days
    if not advances or check_world(settings) is None:
        advances.insert(0, 0)
    console.print(
        f"[bold]c360 run[/]: profile [cyan]{settings.profile}[/], scale "
        f"[cyan]{settings.scale}[/] ({settings.people:,} people), seed {settings.seed}, "
        f"home {settings.home}, {len(advances)} run(s)"
    )
    timings: list[tuple[str, int, float]] = []
    started = time.perf_counter()
    for advance in advances:
        run_id = new_run_id()
        run_started = time.perf_counter()
        result = pipeline(settings, run_id, advance)
        timings.append((run_id, result.simulation.day, time.perf_counter() - run_started))
        console.print(f"run {run_id}: day {result.simulation.day} in {timings[-1][2]:.1f} s")
    elapsed = time.perf_counter() - started
    _print_staging(result.staged)
    if result.identity is not None:
        _print_identity(result.identity)
    from flows.quality import format_results

    console.print(format_results(result.quality))
    _print_summary(settings, result.writes, elapsed)
    if len(timings) > 1:
        _print_runs(timings)


def _print_runs(timings: list[tuple[str, int, float]]) -> None:
    table = Table(title="runs, one per simulated day", title_justify="left")
    for column in ("run", "day", "seconds"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run_id, day, seconds in timings:
        table.add_row(run_id, str(day), f"{seconds:.1f}")
    console.print(table)


def _print_staging(outcomes: list[StageOutcome]) -> None:
    table = Table(title="staging", title_justify="left")
    for column in ("table", "status", "raw rows", "staged", "quarantined", "alerted"):
        table.add_column(column, justify="left" if column in ("table", "status") else "right")
    for o in outcomes:
        status = f"[yellow]paused[/]: {'; '.join(o.drift)}" if o.status == "paused" else o.status
        table.add_row(
            o.table,
            status,
            f"{o.raw_rows:,}",
            f"{o.staged_rows:,}",
            f"{o.quarantined_rows:,}",
            f"{o.alerted_rows:,}",
        )
    console.print(table)
    for o in outcomes:
        if o.status == "paused":
            console.print(
                f"[yellow]{o.feed} is paused by schema drift[/]: update its contract, then "
                f"`c360 contracts accept {o.feed}`"
            )


def _print_identity(outcome: ResolveOutcome) -> None:
    if outcome.status == "unchanged":
        console.print("identity resolution: nothing new staged, keys unchanged")
        return
    console.print(
        f"identity resolution: {outcome.records:,} records -> {outcome.customers:,} customers "
        f"in {outcome.seconds:.1f} s; {outcome.history:,} key merges/splits/retirements "
        "(ops.identity_history)"
    )
    if outcome.metrics.is_empty():
        return
    table = Table(
        title="identity resolution vs the simulator's truth (pairwise)", title_justify="left"
    )
    # Compact, so that it fits an 80-column terminal (a CI log) without cutting a figure.
    table.box, table.pad_edge, table.padding = box.SIMPLE_HEAD, False, (0, 1, 0, 0)
    for column in ("scope", "records", "no id", "persons", "keys", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "scope" else "right", no_wrap=True)
    for m in outcome.metrics.iter_rows(named=True):
        table.add_row(
            m["scope"],
            f"{m['records']:,}",
            f"{m['unresolved']:,}",
            f"{m['persons']:,}",
            f"{m['clusters']:,}",
            f"{m['precision']:.4f}",
            f"{m['recall']:.4f}",
            f"{m['f1']:.4f}",
        )
    console.print(table)


@app.command()
def resolve(profile: ProfileOption = None) -> None:
    """Resolve identities across the staged sources: customer keys, golden records, metrics."""
    settings = _settings(profile=profile)
    from catalog.factory import open_catalog
    from flows.resolve import resolve_lakehouse

    _print_identity(
        resolve_lakehouse(
            open_catalog(settings), settings.sources_dir / "truth", run_id=new_run_id()
        )
    )


@app.command()
def stage(
    full: Annotated[
        bool, typer.Option(help="Rebuild every staging table from all raw history.")
    ] = False,
    engine: EngineOption = None,
    profile: ProfileOption = None,
) -> None:
    """Stage what raw gained since the last run (contracts enforced, drifted feeds paused)."""
    settings = _settings(profile=profile, engine=engine)
    from flows.stage import stage_flow

    _print_staging(stage_flow(settings, new_run_id(), full))


contracts_app = typer.Typer(help="Data contracts: list them, accept a drifted feed's new one.")
app.add_typer(contracts_app, name="contracts")


@contracts_app.command("list")
def contracts_list(profile: ProfileOption = None) -> None:
    """Each feed's contract in force and whether the feed is paused by drift."""
    settings = _settings(profile=profile)
    from catalog.contracts import load_contracts
    from catalog.contracts.drift import pending_changes
    from catalog.factory import open_catalog

    catalog = open_catalog(settings)
    table = Table(title="data contracts", title_justify="left")
    for column in ("feed", "contract", "version", "enforcement", "state"):
        table.add_column(column)
    for feed, contract in load_contracts(settings.contracts_dir).items():
        pending = pending_changes(catalog, feed)
        state = f"[yellow]paused[/]: {'; '.join(map(str, pending))}" if pending else "running"
        table.add_row(
            feed,
            contract.contract_id,
            str(contract.version),
            contract.enforcement.on_violation.value,
            state,
        )
    console.print(table)


@contracts_app.command("accept")
def contracts_accept(
    feed: Annotated[str, typer.Argument(help="The paused feed, e.g. vendor_loyalty_members.")],
    profile: ProfileOption = None,
) -> None:
    """Resume a feed paused by schema drift, under its updated contract; the next staging
    run processes everything held while it was paused."""
    settings = _settings(profile=profile)
    from catalog.alerts import recorded_by, route
    from catalog.contracts import load_contracts
    from catalog.contracts.drift import accept
    from catalog.factory import open_catalog

    contracts = load_contracts(settings.contracts_dir)
    if feed not in contracts:
        raise UserError(f"no contract for feed {feed!r}; feeds: {', '.join(contracts)}")
    catalog = open_catalog(settings)
    # The drift alert's resolution reaches the alert channels now, not with the next run.
    action = f"accept-{new_run_id()}"
    accepted = accept(catalog, feed, contracts[feed], run_id=action)
    route(settings, recorded_by(catalog, action))
    if not accepted:
        console.print(f"{feed} has no schema change to accept: it is running")
        return
    console.print(
        f"{feed} resumed under {contracts[feed].contract_id} (accepted: "
        f"{'; '.join(map(str, accepted))}); `c360 stage` or the next run stages what was held"
    )


def _print_summary(settings: Settings, writes: list[WriteResult], elapsed: float) -> None:
    from catalog.factory import open_catalog
    from catalog.registry import TABLES

    catalog = open_catalog(settings)
    written: dict[str, int] = {}
    for w in writes:
        written[w.table] = written.get(w.table, 0) + w.rows
    table = Table(title="lakehouse tables", title_justify="left")
    for column in ("table", "rows", "written this run"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name in TABLES:
        snapshot = catalog.load_table(name).current_snapshot()
        total = snapshot.summary["total-records"] if snapshot and snapshot.summary else "0"
        table.add_row(name, f"{int(total or 0):,}", f"{written.get(name, 0):,}")
    console.print(table)
    console.print(f"[bold green]done[/] in {elapsed:.1f} s. Next:")
    console.print("  just ui          watch the runs in the Prefect UI")
    console.print("  c360 catalog     open the lakehouse from pyiceberg, Polars or DuckDB")


@app.command()
def simulate(
    days: Annotated[int, typer.Option(help="Days to advance past the current day.")] = 0,
    profile: ProfileOption = None,
    scale: ScaleOption = None,
    seed: SeedOption = None,
    faults: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated faults to inject: {', '.join(FAULTS)}."),
    ] = None,
    fault_day: Annotated[int | None, typer.Option(help="The day faults happen.")] = None,
) -> None:
    """Emit the simulated world into the source systems (no pipeline).

    A new world starts with day 0 (each source's history); every further day carries only
    that day's changes.
    """
    overrides: dict[str, object] = {}
    if faults is not None or fault_day is not None:
        overrides = {"faults": _faults(faults), "fault_day": fault_day}
    settings = _settings(
        profile=profile,
        scale=scale,
        seed=seed,
        simulator={k: v for k, v in overrides.items() if v is not None} or None,
    )
    from simulator.world import simulate as run_simulation

    report = run_simulation(
        settings, days, on_day=lambda day: console.print(f"simulating day {day} ...")
    )
    if report.already_emitted:
        console.print(f"day {report.day} already emitted: nothing to do (use --days N)")
    for source, rows in report.emitted.items():
        console.print(f"  {source}: {rows:,} rows")
    console.print(f"world at day {report.day}; truth in {settings.sources_dir / 'truth'}")


def _faults(value: str | None) -> list[str]:
    names = [f.strip() for f in (value or "").split(",") if f.strip()]
    unknown = sorted(set(names) - set(FAULTS))
    if unknown:
        raise UserError(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    return names


@app.command()
def ingest(
    family: Annotated[str, typer.Argument(help="db, stream, files, tickets or all.")] = "all",
    follow: Annotated[bool, typer.Option(help="stream only: keep consuming until Ctrl-C.")] = False,
    profile: ProfileOption = None,
) -> None:
    """Land new source data in the raw zone, exactly once (re-running adds nothing)."""
    settings = _settings(profile=profile)
    from flows.ingest import Family, ingest_flow

    choices = ["all", *Family]
    if family not in choices:
        raise UserError(f"unknown source family {family!r}; choose from {', '.join(choices)}")
    if follow:
        if family != Family.STREAM:
            raise UserError("--follow applies to the stream only: c360 ingest stream --follow")
        from flows.ingest_stream import consume

        console.print(
            "consuming the stream; Ctrl-C stops (uncommitted records are read again next time)"
        )
        consume(
            settings,
            follow=True,
            run_id=new_run_id(),
            on_commit=lambda w: console.print(f"{w.table}: +{w.rows:,} rows"),
        )
        return
    families = list(Family) if family == "all" else [Family(family)]
    writes = ingest_flow(settings, new_run_id(), families)
    for w in writes:
        state = "already landed" if w.skipped else f"+{w.rows:,} rows"
        console.print(f"{w.table}: {state}")


@app.command()
def runs(
    profile: ProfileOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
) -> None:
    """List the pipeline runs recorded in `ops`: when, how long, from which code, and
    what each wrote."""
    settings = _settings(profile=profile)
    from catalog.factory import open_catalog
    from catalog.run_log import run_history

    history = run_history(open_catalog(settings), limit)
    if history.is_empty():
        console.print(f"no runs recorded in {settings.home} yet: `c360 run` makes one")
        return
    # Plain aligned lines, not a table: run ids stay whole and greppable at any width.
    console.print(
        f"{'run':<24} {'started (UTC)':<19} {'status':<10} {'seconds':>8} {'code':<12} "
        f"{'tables':>6} {'rows written':>12}"
    )
    for r in history.iter_rows(named=True):
        console.print(
            f"{r['run_id']:<24} {r['started_at']:%Y-%m-%d %H:%M:%S} {r['status']:<10} "
            f"{r['duration_s']:>8.1f} {r['code_version'] or '-':<12} "
            f"{r['tables_written']:>6,} {r['rows_written']:>12,}"
        )


@app.command()
def report(profile: ProfileOption = None) -> None:
    """Write the pipeline health dashboard (SLO compliance, data quality, freshness,
    volumes, identity resolution, open alerts) to $C360_HOME/reports/, for any browser."""
    settings = _settings(profile=profile)
    from flows.observe.report import write_report

    console.print(f"report written to {write_report(settings)}")


@app.command()
def replay(
    run_id: Annotated[str, typer.Argument(help="A run id from `c360 runs`.")],
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the scratch lakehouse even when equal.")
    ] = False,
    profile: ProfileOption = None,
) -> None:
    """Rebuild a run's staging and curated tables from the raw snapshots it read, in a
    scratch lakehouse, and prove by content digest that they equal what it produced. The
    scratch lakehouse is deleted when they are equal (unless --keep), kept when not."""
    settings = _settings(profile=profile)
    from catalog.factory import open_catalog
    from flows.replay import replay_flow, run_parameters

    run_parameters(open_catalog(settings), run_id)  # an unknown run: one line, no flow run
    report = replay_flow(settings, run_id)
    console.print(f"{'table':<40} {'rows':>9} {'produced':<16} {'replayed':<16}")
    for t in report.tables:
        mark = "" if t.equal else "  [bold red]differs[/]"
        console.print(
            f"{t.table:<40} {t.produced.rows:>9,} {t.produced.sha256[:16]} "
            f"{t.replayed.sha256[:16]}{mark}"
        )
    equal = sum(t.equal for t in report.tables)
    console.print(f"{equal} of {len(report.tables)} tables equal")
    if not report.reproduced:
        raise UserError(
            f"run {run_id} was not reproduced: see the tables marked above; the replay is "
            f"in {report.home}"
        )
    if keep:
        console.print(f"the replay is in {report.home}")
    else:
        shutil.rmtree(report.home)
    console.print(f"[bold green]run {run_id} reproduced exactly[/]")


@app.command("catalog")
def show_catalog(profile: ProfileOption = None) -> None:
    """Print the catalog settings an outside reader needs, and how to use them."""
    settings = _settings(profile=profile)
    from catalog.factory import catalog_properties

    props = catalog_properties(settings.resolved_catalog())
    console.print(f"catalog name: c360   profile: {settings.profile}")
    for key, value in props.items():
        shown = "***" if "secret" in key else value
        console.print(f"  {key} = {shown}")
    args = ", ".join(f'"{k}": "{v}"' for k, v in props.items() if "secret" not in k)
    console.print("\nfrom pyiceberg.catalog import load_catalog")
    console.print(f'catalog = load_catalog("c360", **{{{args}}})', soft_wrap=True)
    console.print('catalog.load_table("curated.customers").scan().to_polars()')


@app.command()
def maintain(profile: ProfileOption = None) -> None:
    """Compact small files, expire old snapshots and delete unreferenced files in every
    table (the daily `c360-maintenance` flow, once; C360_MAINTENANCE__* settings)."""
    settings = _settings(profile=profile)
    from catalog.maintenance import OrphanListingError
    from flows.maintenance import MaintenanceFailedError, maintenance_flow

    try:
        reports = maintenance_flow(settings)
    except (MaintenanceFailedError, OrphanListingError) as exc:
        raise UserError(str(exc)) from exc
    options = settings.maintenance
    console.print(
        f"[bold]c360 maintain[/]: {options.snapshot_retention_days:g} days of snapshots kept "
        f"(at least {options.keep_last_snapshots} per table), unreferenced files older than "
        f"{options.orphan_grace_minutes:g} min deleted, files under "
        f"{options.compact_target_mb:g} MB compacted"
    )
    done = [r for r in reports if r.changed or r.note]
    # Compact, so that it fits an 80-column terminal (a CI log) without cutting a figure.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for column in ("table", "expired", "kept", "files deleted", "MB freed", "data files"):
        table.add_column(column, justify="left" if column == "table" else "right", no_wrap=True)
    for r in done:
        compacted = r.files_before != r.files_after
        table.add_row(
            r.table,
            f"{r.snapshots_expired:,}",
            f"{r.snapshots_kept:,}",
            f"{r.files_removed:,}",
            f"{r.bytes_freed / 2**20:,.1f}",
            f"{r.files_before} -> {r.files_after}" if compacted else str(r.files_after),
        )
    if done:
        console.print(table)
    for r in done:
        if r.note:
            console.print(f"[yellow]{r.table}[/]: {r.note}")
    console.print(f"{len(done)} of {len(reports)} tables changed")


@app.command()
def model(
    target: Annotated[
        str, typer.Option(help="dbt target: dev (DuckDB) or prod (Snowflake).")
    ] = "dev",
    command: Annotated[str, typer.Argument(help="dbt command")] = "build",
) -> None:
    """Run dbt on the project in dbt/ against a target (the curated models)."""
    settings = _settings(dbt_target=target)
    from flows.model import load_prod_sources, run_dbt

    if settings.dbt_target == "prod" and command in LOADING_COMMANDS:
        loaded = load_prod_sources(settings)
        console.print(f"loaded {sum(loaded.values()):,} staging rows into Snowflake")
    run_dbt(settings, [command])


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete C360_HOME: the lakehouse, the simulated sources and run history."""
    settings = _settings()
    if not settings.home.exists():
        console.print(f"{settings.home} does not exist: nothing to reset")
        return
    if not yes:
        typer.confirm(f"Delete {settings.home} and everything in it?", abort=True)
    shutil.rmtree(settings.home)
    console.print(f"deleted {settings.home}")


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 4200,
) -> None:
    """Start the Prefect server and its UI on 127.0.0.1, over the runs' own database."""
    settings = _settings()
    url = f"http://127.0.0.1:{port}"
    state = str(settings.prefect_home / "prefect.db")
    if settings.prefect_database_url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            state = make_url(settings.prefect_database_url).render_as_string(hide_password=True)
        except ArgumentError as exc:
            raise UserError(f"bad setting prefect_database_url: {exc}") from exc
    console.print(f"Prefect UI on {url} (state in {state}). Ctrl-C stops it.")
    console.print(f"Send runs straight to it: export C360_PREFECT_API_URL={url}/api")
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    # `--port` does not reach the UI's settings: unset, its pages call port 4200 (or a
    # client's PREFECT_API_URL, when C360_PREFECT_API_URL is set).
    env = {**os.environ, "PREFECT_UI_API_URL": f"{url}/api"}
    raise SystemExit(subprocess.call(command, env=env))


@app.command()
def deploy() -> None:
    """Serve the pipeline's deployments, one per latency tier, on their schedules (stream
    every minute, replication and staging hourly, curated every 3 hours, maintenance
    daily; each runnable on demand from the UI) until Ctrl-C. Needs a Prefect server:
    `just ui`, or C360_PREFECT_API_URL."""
    settings = _settings()
    api = settings.prefect_api_url or DEFAULT_PREFECT_API
    _require_prefect_server(api)
    # Scheduled runs load their settings from this process's environment: the same as ours.
    os.environ.update({**settings_env(settings), "PREFECT_API_URL": api})
    from prefect import serve

    from flows.schedules import SCHEDULES, deployments

    for s in SCHEDULES:
        when = s.cron or (f"every {s.interval.total_seconds():g} s" if s.interval else "on demand")
        console.print(f"  {s.name:<14} {when:<14} {s.tier}")
    console.print(
        f"serving {len(SCHEDULES)} deployments to {api} for {settings.home}; Ctrl-C stops"
    )
    serve(*deployments(), print_starting_message=False)


def _require_prefect_server(api: str) -> None:
    import httpx

    try:
        httpx.get(f"{api}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise UserError(
            f"no Prefect server at {api} ({type(exc).__name__}): start one with `just ui`, "
            "or set C360_PREFECT_API_URL"
        ) from exc


@app.command()
def serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8360,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the customer lookup API on 127.0.0.1 (OpenAPI docs at /docs) from the serving
    copy that publishing builds; a new copy is picked up without a restart."""
    settings = _settings()
    # Lookups normalise one value at a time with Polars: its thread pool costs ~0.8 ms a
    # call on 2 cores, one thread ~0.15 ms. Set before Polars is first imported.
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    import uvicorn

    from api.app import create_app
    from api.serving_copy import serving_path

    copy = serving_path(settings)
    if not copy.exists():
        err.print(f"[yellow]warning:[/] no serving copy at {copy} yet: `c360 run` builds it")
    auth = "X-API-Key required" if settings.api.key else "no API key (C360_API__KEY unset)"
    console.print(f"customer API on http://127.0.0.1:{port} ({auth}); Ctrl-C stops it")
    uvicorn.run(
        create_app(settings), host="127.0.0.1", port=port, access_log=access_log, log_level="info"
    )
