"""Stage: raw CRM history to the clean current state in `staging.crm_customers`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.tables import raw, staging
from catalog.writer import WriteResult, write
from flows.ingest_db import CRM, capture_database
from flows.stage import stage_table
from simulator.emitters.database import connect
from simulator.sources import crm
from simulator.world import simulate
from tests.flows.crm_source import (
    CHANGED_AT,
    INSERTED,
    UPDATED,
    change_crm,
    crm_url,
    source_rows,
    table_rows,
)
from transforms import normalise
from transforms.crm_customers import stage_crm_customers


@pytest.fixture
def world(make_settings: Callable[..., Settings]) -> Settings:
    """A tiny simulated world (SQLite CRM) under the test's home, where `catalog` lives."""
    tiny = make_settings(scale="tiny")
    simulate(tiny)
    return tiny


def _capture(settings: Settings, catalog: Catalog) -> WriteResult:
    (result,) = capture_database(catalog, crm_url(settings), CRM.tables, run_id="r")
    return result


def _stage(catalog: Catalog, run_id: str = "r") -> WriteResult:
    return stage_table(
        catalog, raw.CRM_CUSTOMERS, staging.CRM_CUSTOMERS, stage_crm_customers, run_id=run_id
    )


def _normalised(source: pl.DataFrame) -> pl.DataFrame:
    """The source rows as staging should hold them."""
    return source.with_columns(
        normalise.name("first_name"),
        normalise.name("last_name"),
        normalise.email("email"),
        normalise.phone_e164("phone"),
        normalise.name("street"),
        normalise.name("city"),
    ).sort("customer_id")


def _staged(catalog: Catalog) -> pl.DataFrame:
    return table_rows(catalog, staging.CRM_CUSTOMERS).sort("customer_id")


def test_staging_holds_the_sources_current_rows_normalised(
    world: Settings, catalog: Catalog
) -> None:
    _capture(world, catalog)
    change_crm(world)
    _capture(world, catalog)

    result = _stage(catalog)

    staged = _staged(catalog)
    expected = _normalised(source_rows(world))
    assert result.rows == staged.height == expected.height
    assert staged["customer_id"].is_unique().all()
    assert staged.columns == staging.CRM_CUSTOMERS.column_names
    assert staged.select(expected.columns).equals(expected)
    # The changed rows are staged in their newest version, cleaned.
    changed = staged.filter(pl.col("customer_id").is_in(UPDATED + INSERTED))
    assert changed["email"].to_list() == [
        "moved0@example.com",
        "moved1@example.com",
        "moved2@example.com",
        "new0@example.com",
        "new1@example.com",
    ]
    new = changed.filter(pl.col("customer_id") == INSERTED[0]).row(0, named=True)
    assert (new["first_name"], new["last_name"], new["phone"], new["street"]) == (
        "New",
        "Customer 0",
        "+15550100000",
        "1 Elm St",
    )
    # Every phone the simulator typed parses.
    assert staged["phone"].null_count() == 0


def test_deleted_customers_are_not_staged(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    gone = table_rows(catalog, raw.CRM_CUSTOMERS).filter(pl.col("customer_id") == UPDATED[0])
    deletion = gone.with_columns(
        _cdc_operation=pl.lit("delete"),
        updated_at=pl.lit(CHANGED_AT).dt.replace_time_zone("UTC"),
        _ingested_at=pl.col("_ingested_at") + timedelta(minutes=1),
        _batch_id=pl.lit("delete-batch"),
    )
    write(catalog, raw.CRM_CUSTOMERS, deletion, batch_id="delete-batch", run_id="r")

    _stage(catalog)

    staged = _staged(catalog)
    expected = _normalised(source_rows(world)).filter(pl.col("customer_id") != UPDATED[0])
    assert staged.select(expected.columns).equals(expected)


def test_restaging_the_same_raw_snapshot_is_skipped(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    first = _stage(catalog, "run-1")
    table = catalog.load_table(staging.CRM_CUSTOMERS.identifier_name)
    snapshots = len(table.snapshots())

    again = _stage(catalog, "run-2")

    assert not first.skipped
    assert again.skipped
    assert again.snapshot_id == first.snapshot_id
    assert len(table.refresh().snapshots()) == snapshots
    assert _staged(catalog).height == first.rows


def test_a_new_raw_snapshot_restages_in_place(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    first = _stage(catalog)
    change_crm(world)
    _capture(world, catalog)

    second = _stage(catalog)

    staged = _staged(catalog)
    assert not second.skipped
    assert second.rows == first.rows + len(INSERTED)
    # Overwritten, not appended: one row per customer.
    assert staged.height == second.rows
    assert staged["customer_id"].is_unique().all()
    assert staged.select(source_rows(world).columns).equals(_normalised(source_rows(world)))


def test_a_customer_deleted_in_the_source_is_not_staged(world: Settings, catalog: Catalog) -> None:
    _capture(world, catalog)
    engine = connect(crm_url(world))
    with engine.begin() as conn:
        conn.execute(crm.CUSTOMERS.delete().where(crm.CUSTOMERS.c.customer_id == UPDATED[0]))
    engine.dispose()
    # The delete row the capture appends says neither when nor what: only key and capture time.
    _capture(world, catalog)

    _stage(catalog)

    staged = _staged(catalog)
    assert UPDATED[0] not in staged["customer_id"].to_list()
    assert staged.select(source_rows(world).columns).equals(_normalised(source_rows(world)))
