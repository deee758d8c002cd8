"""Replay: rebuild a recorded run's staging and curated tables from the raw snapshots it
read, in a scratch lakehouse, and prove by content digest that they equal what it produced.

A run is a function of its inputs, which its manifest (`ops.run_snapshots`, role `read`)
names: each raw table at the snapshot staging consumed, and the state the run built on
rather than rebuilt (the customer keys resolution carried over, the Splink models it kept,
the SCD2 history the dbt snapshot extended). Replay stages the raw snapshots in full
(incremental staging equals a full rebuild), resolves with the prior keys and model,
restores the SCD2 history into a fresh dbt database, builds and publishes; then compares
every staging and curated table with the snapshot the run left it at (role `result`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from c360.settings import CatalogSettings, ProfileName, Settings, SourceSettings
from catalog.content import Digest, table_digest
from catalog.factory import open_catalog
from catalog.reader import equals, read_rows
from catalog.registry import TABLES, ensure_all, ensure_table
from catalog.run_log import run_manifest
from catalog.tables import ops, staging
from catalog.writer import write
from flows.heartbeats import parent_heartbeat_only
from flows.manifest import DIM_CUSTOMER
from flows.model import day_vars, excluding, run_dbt
from flows.publish import publish_flow
from flows.resolve import NEXT_KEY, resolve_task
from flows.stage import stage_flow


class ReplayError(RuntimeError):
    """A run cannot be replayed; the message says why in one line."""


@dataclass(frozen=True)
class TableComparison:
    table: str
    produced: Digest  # the table as the run left it
    replayed: Digest

    @property
    def equal(self) -> bool:
        return self.produced == self.replayed


@dataclass(frozen=True)
class ReplayReport:
    run_id: str
    home: Path  # the scratch lakehouse the replay built
    tables: list[TableComparison]

    @property
    def reproduced(self) -> bool:
        return all(t.equal for t in self.tables)


def scratch_settings(settings: Settings, home: Path, parameters: dict[str, Any]) -> Settings:
    """An embedded lakehouse at `home` with the run's engine, whatever profile ran it."""
    return settings.model_copy(
        update={
            "home": home,
            "profile": ProfileName.LOCAL,
            "catalog": CatalogSettings(),
            "sources": SourceSettings(),
            "engine": parameters.get("engine", settings.engine),
            "dbt_target": "dev",
        }
    )


def run_parameters(catalog: Catalog, run_id: str) -> dict[str, Any]:
    """The parameters `ops.pipeline_runs` recorded for `run_id`."""
    runs = read_rows(catalog, ops.PIPELINE_RUNS, equals("run_id", run_id), ["parameters"])
    if runs.is_empty():
        raise ReplayError(f"no run {run_id} in ops.pipeline_runs (see `c360 runs`)")
    recorded = runs["parameters"][0]
    if recorded is None:
        raise ReplayError(f"run {run_id} was recorded before runs kept their manifest")
    parameters: dict[str, Any] = json.loads(recorded)
    return parameters


def snapshot_of(table: Table, snapshot_id: int | None) -> int | None:
    """`snapshot_id`, checked to be still in the table's history."""
    if snapshot_id is not None and table.snapshot_by_id(snapshot_id) is None:
        raise ReplayError(
            f"{'.'.join(table.name())} snapshot {snapshot_id} has been expired (maintenance "
            "retention): this run can no longer be replayed"
        )
    return snapshot_id


def copy_table(source: Catalog, target: Catalog, name: str, snapshot_id: int) -> int:
    """Copy `name` as of `snapshot_id` into `target`, with its schema and partitioning;
    returns the rows copied. The copy carries no batch or run marks."""
    table = source.load_table(name)
    rows = table.scan(snapshot_id=snapshot_of(table, snapshot_id)).to_arrow()
    target.create_namespace_if_not_exists(name.split(".")[0])
    copy = target.create_table(name, schema=table.schema(), partition_spec=table.spec())
    if rows.num_rows:
        copy.append(rows)
    return rows.num_rows


@task(cache_policy=NO_CACHE)
def restore_inputs(settings: Settings, scratch: Settings, read: pl.DataFrame) -> dict[str, int]:
    """Put the run's inputs into the scratch lakehouse: each raw table as staging read
    it, the Splink models and the prior customer keys (with the next free key) as
    resolution found them."""
    source, target = open_catalog(settings), open_catalog(scratch)
    copied = {}
    for name, snapshot_id in read.select("table_name", "snapshot_id").iter_rows():
        copied_whole = name.startswith("raw.") or name == ops.IDENTITY_MODELS.identifier_name
        if copied_whole and snapshot_id is not None:
            copied[name] = copy_table(source, target, name, snapshot_id)
    ensure_all(target)
    xref_id = _read_snapshot(read, staging.CUSTOMER_XREF.identifier_name)
    if xref_id is not None:
        xref = source.load_table(staging.CUSTOMER_XREF.identifier_name)
        snapshot = xref.snapshot_by_id(snapshot_of(xref, xref_id) or 0)
        next_key = snapshot.summary.get(NEXT_KEY) if snapshot and snapshot.summary else None
        prior = xref.scan(snapshot_id=xref_id).to_arrow()
        write(
            target,
            staging.CUSTOMER_XREF,
            prior,
            batch_id="replay:prior-keys",
            run_id="replay",
            properties={NEXT_KEY: next_key} if next_key else None,
            commit_empty=True,
        )
        copied[staging.CUSTOMER_XREF.identifier_name] = prior.num_rows
    return copied


@task(cache_policy=NO_CACHE)
def restore_history(settings: Settings, scratch: Settings, read: pl.DataFrame) -> int:
    """Seed the scratch dbt database's SCD2 snapshot with the versions `dim_customer` held
    when the run started (dbt then extends it as the run's build did)."""
    name = DIM_CUSTOMER.identifier_name
    snapshot_id = _read_snapshot(read, name)
    if snapshot_id is None:
        return 0
    try:
        table = open_catalog(settings).load_table(name)
    except NoSuchTableError:
        return 0
    versions = table.scan(snapshot_id=snapshot_of(table, snapshot_id)).to_arrow()
    scratch.dbt_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(scratch.dbt_database)) as con:
        con.execute("create schema if not exists snapshots")
        con.register("versions", versions)
        con.execute(
            "create table snapshots.snap_customers as select customer_key, first_name, "
            "last_name, email, phone, street, city, state, postcode, country, segment, "
            "account_status, customer_version_id as dbt_scd_id, valid_from as dbt_updated_at, "
            "valid_from as dbt_valid_from, valid_to as dbt_valid_to from versions"
        )
    return versions.num_rows


def _read_snapshot(read: pl.DataFrame, name: str) -> int | None:
    match = read.filter(pl.col("table_name") == name)["snapshot_id"]
    return None if match.is_empty() else match[0]


@task(cache_policy=NO_CACHE)
def build_models(scratch: Settings, parameters: dict[str, Any]) -> None:
    """`dbt build` in the scratch lakehouse, dated as the run's build was."""
    command = ["build", *excluding(parameters.get("paused", []))]
    run_dbt(scratch, command, variables=day_vars(parameters["world_day"]))


@task(cache_policy=NO_CACHE)
def compare(settings: Settings, scratch: Settings, results: pl.DataFrame) -> list[TableComparison]:
    """Each staging and curated table: its digest as the run left it and as replayed."""
    original, rebuilt = open_catalog(settings), open_catalog(scratch)
    comparisons = []
    for name, snapshot_id in results.select("table_name", "snapshot_id").sort("table_name").rows():
        table = original.load_table(name)
        copy = ensure_table(rebuilt, TABLES[name])
        current = copy.current_snapshot()
        comparisons.append(
            TableComparison(
                name,
                table_digest(table, snapshot_of(table, snapshot_id)),
                table_digest(copy, current.snapshot_id if current else None),
            )
        )
    return comparisons


@flow(name="c360-replay")
def replay_flow(settings: Settings, run_id: str, home: Path | None = None) -> ReplayReport:
    """Replay run `run_id` in a scratch lakehouse (default `$C360_HOME/replay/<run-id>`,
    replaced if it exists) and compare it with what the run produced."""
    with parent_heartbeat_only():
        catalog = open_catalog(settings)
        parameters = run_parameters(catalog, run_id)
        manifest = run_manifest(catalog, run_id)
        if parameters.get("dbt_target", "dev") != "dev":
            raise ReplayError(f"run {run_id} built on {parameters['dbt_target']}: only dev runs")
        home = home or settings.home / "replay" / run_id
        shutil.rmtree(home, ignore_errors=True)
        scratch = scratch_settings(settings, home, parameters)
        replay_id = f"replay-{run_id}"
        read = manifest.filter(pl.col("role") == "read")
        restore_inputs(settings, scratch, read)
        restore_history(settings, scratch, read)
        stage_flow(scratch, replay_id, full=True)
        resolve_task(scratch, replay_id)
        build_models(scratch, parameters)
        publish_flow(scratch, replay_id)
        tables = compare(settings, scratch, manifest.filter(pl.col("role") == "result"))
        report = ReplayReport(run_id, home, tables)
        logger = get_run_logger()
        for t in tables:
            if not t.equal:
                logger.error(
                    "%s differs: produced %s, replayed %s", t.table, t.produced, t.replayed
                )
        logger.info(
            "replay of %s: %d of %d tables equal", run_id, sum(t.equal for t in tables), len(tables)
        )
        return report
