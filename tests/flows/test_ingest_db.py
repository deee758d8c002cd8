"""Ingest: capturing the CRM's changed rows into the raw zone, from SQLite and real servers."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings, SourceSettings
from catalog.tables import raw
from catalog.writer import BATCH_ID, WriteResult
from flows.ingest_db import WATERMARK, capture_changes
from simulator.sources import crm
from simulator.truth import frame_checksum, read_manifest
from simulator.world import simulate
from tests.flows.crm_source import (
    INSERTED,
    UPDATED,
    change_crm,
    crm_url,
    source_rows,
    table_rows,
)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def world(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """A tiny simulated world whose CRM is on each database backend."""
    if request.param == "mariadb":
        sources = SourceSettings(crm_url=request.getfixturevalue("mysql_url"))
    elif request.param == "postgresql":
        # Sessions not on UTC: the naive timestamps the CRM stores are still UTC.
        url = request.getfixturevalue("postgres_url")
        sources = SourceSettings(crm_url=f"{url}?options=-c%20timezone%3DAmerica/New_York")
    else:
        sources = SourceSettings()
    settings = make_settings(scale="tiny", sources=sources)
    simulate(settings)
    return settings


def _capture(settings: Settings, catalog: Catalog, run_id: str) -> WriteResult:
    return capture_changes(
        catalog,
        crm_url(settings),
        crm.CUSTOMERS,
        raw.CRM_CUSTOMERS,
        key="customer_id",
        run_id=run_id,
    )


def _raw(catalog: Catalog) -> pl.DataFrame:
    return table_rows(catalog, raw.CRM_CUSTOMERS).sort("customer_id", "_ingested_at")


def _watermark(catalog: Catalog) -> str | None:
    snapshot = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    return snapshot.summary[WATERMARK]


def test_first_capture_lands_every_row_as_an_insert(world: Settings, catalog: Catalog) -> None:
    result = _capture(world, catalog, "run-1")

    source = source_rows(world)
    landed = _raw(catalog)
    assert not result.skipped
    assert result.rows == source.height == landed.height
    assert landed.select(source.columns).equals(source)
    assert landed["_cdc_operation"].unique().to_list() == ["insert"]
    assert landed["_source_committed_at"].equals(landed["updated_at"], check_names=False)
    assert landed["_batch_id"].unique().to_list() == [result.batch_id]
    assert landed["_ingested_at"].null_count() == 0


def test_snapshot_summary_carries_the_watermark(world: Settings, catalog: Catalog) -> None:
    result = _capture(world, catalog, "run-1")

    snapshot = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name).current_snapshot()
    assert snapshot is not None
    assert snapshot.summary is not None
    newest = source_rows(world)["updated_at"].max()
    assert newest is not None
    assert snapshot.snapshot_id == result.snapshot_id
    assert snapshot.summary[WATERMARK] == newest.isoformat()
    assert snapshot.summary[BATCH_ID] == result.batch_id


def test_capture_without_source_changes_writes_nothing(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog, "run-1")
    table = catalog.load_table(raw.CRM_CUSTOMERS.identifier_name)
    snapshots = len(table.snapshots())

    again = _capture(world, catalog, "run-2")

    assert again.skipped
    assert again.rows == 0
    assert len(table.refresh().snapshots()) == snapshots
    assert _raw(catalog).height == source_rows(world).height


def test_capture_appends_exactly_the_changed_rows(world: Settings, catalog: Catalog) -> None:
    first = _capture(world, catalog, "run-1")
    change_crm(world)

    changes = _capture(world, catalog, "run-2")

    source = source_rows(world)
    landed = _raw(catalog)
    appended = landed.filter(pl.col("_batch_id") == changes.batch_id).sort("customer_id")
    assert changes.rows == 5
    assert landed.height == first.rows + changes.rows
    assert dict(zip(appended["customer_id"], appended["_cdc_operation"], strict=True)) == {
        **dict.fromkeys(UPDATED, "update"),
        **dict.fromkeys(INSERTED, "insert"),
    }
    # The appended versions are the source's current rows; the earlier versions stay.
    current = source.filter(pl.col("customer_id").is_in(UPDATED + INSERTED))
    assert appended.select(source.columns).equals(current)
    assert landed.filter(pl.col("customer_id").is_in(UPDATED)).height == 2 * len(UPDATED)
    newest = source["updated_at"].max()
    assert newest is not None
    assert _watermark(catalog) == newest.isoformat()
    assert _capture(world, catalog, "run-3").skipped


def test_capture_after_a_simulated_day_lands_exactly_that_days_changes(
    world: Settings, catalog: Catalog
) -> None:
    first = _capture(world, catalog, "run-1")
    simulate(world, days=1)

    changes = _capture(world, catalog, "run-2")

    manifest = read_manifest(world.sources_dir / "truth").filter(
        pl.col("day") == 1, pl.col("dataset") == crm.DATASET
    )
    appended = _raw(catalog).filter(pl.col("_batch_id") == changes.batch_id)
    assert changes.rows == manifest["rows"].item() > 0
    # The very rows the CRM emitted that day, as the manifest's checksum recorded them.
    assert frame_checksum(appended.select(crm.COLUMNS), "customer_id") == (
        manifest["checksum"].item()
    )
    assert _raw(catalog).height == first.rows + changes.rows
    known = set(_raw(catalog).filter(pl.col("_batch_id") == first.batch_id)["customer_id"])
    expected_ops = {i: "update" if i in known else "insert" for i in appended["customer_id"]}
    assert dict(zip(appended["customer_id"], appended["_cdc_operation"], strict=True)) == (
        expected_ops
    )
