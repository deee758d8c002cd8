"""Model and publish: dbt builds the marts in DuckDB over views of the staging Iceberg
tables, every node's result shows on the Prefect run, and the contracted marts are
published to `curated` with the run id."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.testing.utilities import prefect_test_harness
from pyiceberg.catalog import Catalog

from c360.settings import Settings, load_settings
from catalog.dbt_source import SOURCE_SCHEMA
from catalog.duckdb_scan import load_extensions
from catalog.factory import open_catalog
from catalog.reader import read_rows
from catalog.tables import curated, staging
from catalog.writer import RUN_ID
from flows.model import DbtFailedError, dbt_build, run_dbt
from flows.publish import built_marts, publish_model
from flows.resolve import resolve_lakehouse
from simulator.world import simulate
from tests.duckdb_frames import utc_frame
from tests.flows.lakehouse_days import ingest_everything, stage_everything

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Catalog]]:
    """A tiny world's day 0, staged and resolved, with a Prefect server for the runs."""
    home = tmp_path_factory.mktemp("model")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)  # so a developer's `.env` in the repo is not read
        settings = load_settings(home=home, scale="tiny")
        catalog = open_catalog(settings)
        simulate(settings)
        ingest_everything(settings, catalog, "day-0")
        stage_everything(settings, catalog, "day-0")
        resolve_lakehouse(catalog, settings.sources_dir / "truth", run_id="day-0")
        with prefect_test_harness():
            yield settings, catalog


@flow
def build(settings: Settings) -> int:
    return dbt_build(settings)


def _artifact_rows(key: str) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
        newest = max(artifacts, key=lambda a: a.created)
        assert isinstance(newest.data, str)
        return pl.read_json(newest.data.encode()).to_dicts()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def built(world: tuple[Settings, Catalog]) -> Path:
    """The DuckDB file of a successful build."""
    settings, _ = world
    assert build(settings) > 0
    return settings.dbt_database


def test_sources_are_views_reading_the_iceberg_tables_in_place(
    world: tuple[Settings, Catalog], built: Path
) -> None:
    _, catalog = world
    with duckdb.connect(str(built), read_only=True) as con:
        load_extensions(con, ("avro", "iceberg"))
        views = {
            name
            for (name,) in con.execute(
                "select view_name from duckdb_views() where schema_name = ?", [SOURCE_SCHEMA]
            ).fetchall()
        }
        assert views == {t.name for t in staging.TABLES}
        assert not con.execute(
            "select table_name from duckdb_tables() where schema_name = ?", [SOURCE_SCHEMA]
        ).fetchall()
        for table in staging.TABLES:
            order = ", ".join(table.identifier)
            seen = utc_frame(
                con.sql(f"select * from {SOURCE_SCHEMA}.{table.name} order by {order}")
            )
            assert seen.equals(read_rows(catalog, table).sort(table.identifier)), table.name


def test_every_node_result_is_on_the_run(built: Path) -> None:
    rows = _artifact_rows("dbt-build")
    assert rows
    assert all(r["status"] in {"success", "pass"} for r in rows)
    names = {r["node"] for r in rows}
    assert {"customer_360", "dim_customer", "snap_customers"} <= names


def _marts(database: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            t.name: utc_frame(con.sql(f"select * from marts.{t.name}")).sort(t.identifier)
            for t in curated.TABLES
        }


def test_a_build_reading_what_the_last_one_read_is_skipped(
    world: tuple[Settings, Catalog], built: Path
) -> None:
    settings, catalog = world
    marts = _marts(built)
    left = built.stat().st_mtime_ns

    assert build(settings) == 0
    assert built.stat().st_mtime_ns == left

    # A new snapshot of a staging table (the same rows) is something new to read.
    products = catalog.load_table(staging.ORDERS_PRODUCTS.identifier_name)
    products.overwrite(products.scan().to_arrow())
    assert build(settings) > 0
    rebuilt = _marts(built)
    assert rebuilt.keys() == marts.keys()
    assert all(rebuilt[name].equals(rows) for name, rows in marts.items())
    assert build(settings) == 0

    # Another dbt command changes the database: the next build runs whole.
    run_dbt(settings, ["run", "--select", "customers"])
    assert build(settings) > 0
    # So does anything else that writes the file.
    with duckdb.connect(str(built)) as con:
        con.execute("create table main.scratch as select 1 as x")
    assert build(settings) > 0


def test_publish_copies_each_contracted_mart_with_the_run_id(
    world: tuple[Settings, Catalog], built: Path
) -> None:
    _, catalog = world
    for table in curated.TABLES:
        publish_model(catalog, built, f"marts.{table.name}", table, run_id="run-pub")
        published = catalog.load_table(table.identifier_name)
        snapshot = published.current_snapshot()
        assert snapshot is not None
        assert snapshot.summary is not None
        assert snapshot.summary[RUN_ID] == "run-pub"
        with duckdb.connect(str(built), read_only=True) as con:
            mart = con.sql(f"select * from marts.{table.name}").to_arrow_table()
        order = list(table.identifier)
        expected = pl.from_arrow(mart.cast(table.schema().as_arrow()))
        assert isinstance(expected, pl.DataFrame)
        assert read_rows(catalog, table).sort(order).equals(expected.sort(order)), table.name
        # Publishing the same build again commits nothing.
        again = publish_model(catalog, built, f"marts.{table.name}", table, run_id="run-again")
        assert again.skipped


def test_a_failing_dbt_test_fails_the_task_and_is_named_on_the_run(
    world: tuple[Settings, Catalog], built: Path
) -> None:
    settings, catalog = world
    # A CRM customer staged twice: the staging model's unique test must catch it.
    table = catalog.load_table(staging.CRM_CUSTOMERS.identifier_name)
    table.append(table.scan(limit=1).to_arrow())

    with pytest.raises(DbtFailedError, match="unique_stg_crm__customers_customer_id"):
        build(settings)

    failed = [r for r in _artifact_rows("dbt-build") if r["status"] == "fail"]
    assert [r["node"] for r in failed] == ["unique_stg_crm__customers_customer_id"]
    assert failed[0]["resource_type"] == "test"


def test_every_model_and_each_of_its_columns_is_documented(
    world: tuple[Settings, Catalog], built: Path
) -> None:
    settings, _ = world
    manifest = json.loads((settings.dbt_dir / "target" / "manifest.json").read_text())
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in {"model", "snapshot"}]
    assert {n["name"] for n in nodes} >= {t.name for t in curated.TABLES}
    with duckdb.connect(str(built), read_only=True) as con:
        for node in nodes:
            assert node["description"], node["name"]
            columns = con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = ? and table_name = ?",
                [node["schema"], node["alias"]],
            ).fetchall()
            assert columns, node["name"]
            documented = {c for c, doc in node["columns"].items() if doc["description"]}
            missing = {c for (c,) in columns} - documented
            if node["resource_type"] == "snapshot":
                missing = {c for c in missing if not c.startswith("dbt_")}
            assert not missing, f"{node['name']}: {sorted(missing)} undocumented"


def test_only_the_marts_dbt_has_built_are_published(tmp_path: Path) -> None:
    database = tmp_path / "c360.duckdb"
    assert built_marts(database) == []
    with duckdb.connect(str(database)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_orders (order_id varchar)")
        con.execute("create table marts.not_a_mart (x integer)")
    assert built_marts(database) == ["marts.fct_orders"]
