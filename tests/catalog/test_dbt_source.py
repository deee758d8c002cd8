"""The dbt-duckdb plugin: dbt's `lakehouse` sources read the staging Iceberg tables' pinned
snapshots in place, on a local and on an S3 warehouse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from c360.settings import CatalogSettings, Settings, settings_env
from catalog.dbt_source import SOURCE_SCHEMA, Plugin
from catalog.factory import open_catalog
from catalog.reader import read_rows
from catalog.registry import ensure_all
from catalog.tables import staging
from catalog.writer import write
from tests.conftest import S3Server
from tests.duckdb_frames import utc_frame

PRODUCTS = staging.ORDERS_PRODUCTS


@pytest.fixture(params=["local", "s3"])
def lakehouse_settings(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Settings for a lakehouse on local disk or on a real S3 server, exported to the
    environment as dbt hands them to its plugins."""
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        warehouse = f"{s3.unique_prefix()}/wh"
        settings = make_settings(catalog=CatalogSettings(warehouse=warehouse, s3=s3.s3_settings()))
    else:
        settings = make_settings()
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    return settings


def _products(first: int, count: int) -> pl.DataFrame:
    ids = range(first, first + count)
    return pl.DataFrame(
        {
            "product_id": [f"P{i:04d}" for i in ids],
            "sku": [f"SKU-{i}" for i in ids],
            "name": [f"Product {i}" for i in ids],
            "category": ["Books"] * count,
            "price": [Decimal(f"{i}.99") for i in ids],
            "updated_at": [datetime(2026, 1, 1, i, tzinfo=UTC) for i in ids],
        }
    )


def _write_products(settings: Settings, frame: pl.DataFrame, batch: str) -> None:
    catalog = open_catalog(settings)
    data = frame.to_arrow().cast(PRODUCTS.schema().as_arrow())
    write(catalog, PRODUCTS, data, batch_id=batch, run_id=batch, mode="append")


def _source_rows(database: Path, plugin: Plugin) -> pl.DataFrame:
    with duckdb.connect(str(database)) as con:
        plugin.configure_connection(con)
        return utc_frame(con.sql(f"select * from {SOURCE_SCHEMA}.products order by product_id"))


def test_sources_read_each_tables_snapshot_as_of_plugin_start(
    lakehouse_settings: Settings, tmp_path: Path
) -> None:
    ensure_all(open_catalog(lakehouse_settings))
    _write_products(lakehouse_settings, _products(0, 3), "b1")
    plugin = Plugin("lakehouse", {"sources": "view"})
    _write_products(lakehouse_settings, _products(3, 2), "b2")

    database = tmp_path / "c360.duckdb"
    # A build started before the second write keeps reading the snapshot it started with.
    assert _source_rows(database, plugin)["product_id"].to_list() == ["P0000", "P0001", "P0002"]
    rows = _source_rows(database, Plugin("lakehouse", {"sources": "view"}))
    expected = read_rows(open_catalog(lakehouse_settings), PRODUCTS).sort("product_id")
    assert rows.equals(expected)
    assert rows.height == 5
    # Every staging table is a source, even one never written to.
    with duckdb.connect(str(database)) as con:
        views = con.execute(
            "select view_name from duckdb_views() where schema_name = ?", [SOURCE_SCHEMA]
        ).fetchall()
    assert {name for (name,) in views} == {t.name for t in staging.TABLES}


def test_copied_sources_hold_the_same_rows_as_tables(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    ensure_all(open_catalog(settings))
    _write_products(settings, _products(0, 4), "b1")
    database = tmp_path / "c360.duckdb"
    copied = _source_rows(database, Plugin("lakehouse", {"sources": "copy"}))
    assert copied.equals(_source_rows(tmp_path / "views.duckdb", Plugin("lakehouse", {})))
    with duckdb.connect(str(database)) as con:
        kinds = con.execute(
            "select table_name from duckdb_tables() where schema_name = ?", [SOURCE_SCHEMA]
        ).fetchall()
    assert len(kinds) == len(staging.TABLES)


def test_an_unknown_sources_mode_is_one_clear_error(settings: Settings) -> None:
    with pytest.raises(ValueError, match="`sources: stream` is not one of view, copy"):
        Plugin("lakehouse", {"sources": "stream"})
