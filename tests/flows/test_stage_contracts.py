"""Staging under the data contracts: nothing lost, bad rows quarantined with their reason,
drifted feeds paused until accepted, and incremental runs equal to a full rebuild."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.alerts import open_alerts
from catalog.contracts import load_contracts
from catalog.contracts.drift import ContractMismatchError, accept
from catalog.factory import open_catalog
from catalog.tables import ops, raw, staging
from catalog.tables.definition import TableDef
from catalog.writer import write
from flows import stage as stage_module
from flows.stage import STAGED, StagingInvariantError, stage_table
from simulator.emitters.database import connect
from simulator.world import simulate
from tests.flows.crm_source import (
    CHANGED_AT,
    crm_url,
    source_rows,
    table_rows,
    write_customer_contract_v2,
)
from tests.flows.lakehouse_days import ingest_everything, stage_everything
from transforms.polars.engine import PolarsEngine

CONTRACTS = Path(__file__).parents[2] / "catalog" / "contracts"


@pytest.fixture
def faulty(make_settings: Callable[..., Settings]) -> Settings:
    """Two tiny days, the second with null and duplicated keys in every vendor file."""
    settings = make_settings(
        scale="tiny", simulator={"faults": ["null_keys", "duplicate_keys"], "fault_day": 1}
    )
    catalog = open_catalog(settings)
    for day in range(2):
        simulate(settings, days=min(day, 1))
        ingest_everything(settings, catalog, f"day-{day}")
        stage_everything(settings, catalog, f"day-{day}")
    return settings


def _rows(catalog: Catalog, name: str) -> pl.DataFrame:
    frame = pl.from_arrow(catalog.load_table(name).scan().to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def test_every_raw_row_is_staged_or_quarantined_under_faults(faulty: Settings) -> None:
    catalog = open_catalog(faulty)
    accounting = _rows(catalog, ops.STAGING_BATCHES.identifier_name)
    quarantine = _rows(catalog, ops.QUARANTINE.identifier_name)
    for staged in STAGED.values():
        # Recounted from raw itself: every batch accounted for once, none lost.
        raw_counts = _rows(catalog, staged.source.identifier_name).group_by("_batch_id").len()
        books = accounting.filter(pl.col("feed") == staged.feed)
        joined = raw_counts.join(books, left_on="_batch_id", right_on="batch_id", how="full")
        assert joined.height == raw_counts.height == books.height > 0, staged.feed
        assert (joined["len"] == joined["raw_rows"]).all(), staged.feed
        assert (joined["raw_rows"] == joined["staged_rows"] + joined["quarantined_rows"]).all()
        held = quarantine.filter(pl.col("feed") == staged.feed).group_by("batch_id").len()
        assert held["len"].sum() == (books["quarantined_rows"].sum() or 0), staged.feed
    # The faults were caught, each with its reason, in the feeds they hit.
    reasons = quarantine.group_by("feed", "rule").len()
    for feed in ("vendor_loyalty_members", "vendor_product_feed"):
        rules = set(reasons.filter(pl.col("feed") == feed)["rule"])
        assert {"primary_key", "duplicate_key"} <= rules, feed
    assert set(quarantine["action"]) == {"quarantined"}


def test_a_quarantine_row_leads_back_to_its_raw_row(faulty: Settings) -> None:
    catalog = open_catalog(faulty)
    quarantine = _rows(catalog, ops.QUARANTINE.identifier_name).filter(
        pl.col("feed") == "vendor_product_feed"
    )
    landed = _rows(catalog, raw.VENDOR_PRODUCT_FEED.identifier_name)
    found = quarantine.join(
        landed,
        left_on=["batch_id", "source_file", "source_position"],
        right_on=["_batch_id", "_source_file", "_source_position"],
    )
    assert found.height == quarantine.height > 0
    keyless = found.filter(pl.col("rule") == "primary_key")
    assert keyless["sku"].null_count() + (keyless["sku"].str.strip_chars() == "").sum() == (
        keyless.height
    )
    # A conflicting copy differs from the first row of its key in the same file.
    copies = found.filter(pl.col("rule") == "duplicate_key")
    assert (copies["value"] == copies["sku"]).all()
    staged = _rows(catalog, staging.VENDOR_PRODUCT_FEED.identifier_name)
    assert staged[staged.columns[0]].is_unique().all()


def test_a_row_outside_the_accepted_values_is_quarantined(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(scale="tiny")
    simulate(settings)
    catalog = open_catalog(settings)
    ingest_everything(settings, catalog, "day-0")
    placed = _rows(catalog, raw.ORDERS_ORDERS.identifier_name).head(3)
    bad = placed.with_columns(
        status=pl.lit("lost"),
        updated_at=pl.col("updated_at") + timedelta(hours=1),
        _ingested_at=pl.col("_ingested_at") + timedelta(minutes=5),
        _batch_id=pl.lit("bad-status"),
    )
    write(catalog, raw.ORDERS_ORDERS, bad, batch_id="bad-status", run_id="r")

    outcome = stage_everything(settings, catalog, "r")["orders"]

    quarantine = _rows(catalog, ops.QUARANTINE.identifier_name)
    assert quarantine.select("rule", "column_name", "value", "batch_id").unique().rows() == [
        ("accepted_values", "status", "lost", "bad-status")
    ]
    assert quarantine.height == outcome.quarantined_rows == 3
    orders = _rows(catalog, staging.ORDERS_ORDERS.identifier_name)
    assert "lost" not in orders["status"].to_list()
    assert orders["order_id"].is_unique().all()


def test_an_alerting_contract_stages_the_row_and_records_the_breach(
    make_settings: Callable[..., Settings],
) -> None:
    """The seed's CRM contract says `on_violation: alert`: a customer without an email is
    staged, and the breach is recorded as alerted."""
    settings = make_settings(scale="tiny")
    simulate(settings)
    catalog = open_catalog(settings)
    ingest_everything(settings, catalog, "day-0")
    one = _rows(catalog, raw.CRM_CUSTOMERS.identifier_name).head(1)
    no_email = one.with_columns(
        email=pl.lit(None, pl.String),
        _ingested_at=pl.col("_ingested_at") + timedelta(minutes=5),
        _batch_id=pl.lit("no-email"),
    )
    write(catalog, raw.CRM_CUSTOMERS, no_email, batch_id="no-email", run_id="r")

    stage_everything(settings, catalog, "r")

    quarantine = _rows(catalog, ops.QUARANTINE.identifier_name)
    assert quarantine.select("feed", "rule", "column_name", "action").rows() == [
        ("crm_customers", "not_null", "email", "alerted")
    ]
    customers = _rows(catalog, staging.CRM_CUSTOMERS.identifier_name)
    staged = customers.filter(pl.col("customer_id") == one["customer_id"][0])
    assert staged["email"].to_list() == [None]


def test_a_broken_invariant_stops_staging_before_anything_is_written(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(scale="tiny")
    simulate(settings)
    catalog = open_catalog(settings)
    ingest_everything(settings, catalog, "day-0")
    # An engine that loses one accepted row (a bug the invariant exists to catch).
    original = PolarsEngine.accepted
    monkeypatch.setattr(
        PolarsEngine, "accepted", lambda self, checked, passing=(): original(self, checked).slice(1)
    )
    staged = STAGED["orders"]

    with pytest.raises(StagingInvariantError, match=r"orders_orders: batch \w+ has \d+ raw rows"):
        stage_table(catalog, staged, load_contracts()[staged.feed], run_id="r")

    assert catalog.load_table(staging.ORDERS_ORDERS.identifier_name).current_snapshot() is None


def _drift_crm(settings: Settings) -> None:
    """The CRM gains a column and one customer changes: a drifted batch to hold."""
    engine = connect(crm_url(settings))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE customers ADD COLUMN loyalty_tier VARCHAR(20)"))
        conn.execute(
            sa.text(
                "UPDATE customers SET loyalty_tier = 'gold', email = 'moved@example.com', "
                "updated_at = :at WHERE customer_id = 'C00000002'"
            ),
            {"at": CHANGED_AT},
        )
    engine.dispose()


def test_drift_pauses_the_feed_until_a_new_contract_is_accepted(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    contracts_dir = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, contracts_dir, ignore=shutil.ignore_patterns("*.py", "__*"))
    settings = make_settings(scale="tiny", contracts_dir=contracts_dir)
    simulate(settings)
    catalog = open_catalog(settings)
    ingest_everything(settings, catalog, "day-0")
    stage_everything(settings, catalog, "day-0")
    _drift_crm(settings)
    simulate(settings, days=1)
    ingest_everything(settings, catalog, "day-1")

    paused = stage_everything(settings, catalog, "day-1")

    assert paused["crm_customers"].status == "paused"
    assert paused["crm_customers"].drift == ["loyalty_tier added"]
    assert paused["orders"].status == "staged"  # other feeds proceed
    customers = _rows(catalog, staging.CRM_CUSTOMERS.identifier_name)
    assert "moved@example.com" not in customers["email"].to_list()
    alerts = open_alerts(catalog, "schema_drift")
    assert alerts.select("subject", "detail").rows() == [("crm_customers", "loyalty_tier added")]
    # Still paused on the next run, and the alert is not raised twice.
    assert stage_everything(settings, catalog, "day-1b")["crm_customers"].status == "paused"
    assert _rows(catalog, ops.ALERTS.identifier_name).height == 1

    # Accepting under the unchanged contract is refused with the reason.
    with pytest.raises(ContractMismatchError, match="still version 1"):
        accept(catalog, "crm_customers", load_contracts(contracts_dir)["crm_customers"])
    write_customer_contract_v2(contracts_dir)
    v2_contract = load_contracts(contracts_dir)["crm_customers"]
    assert v2_contract.version == 2
    assert [str(c) for c in accept(catalog, "crm_customers", v2_contract)] == ["loyalty_tier added"]

    resumed = stage_everything(settings, catalog, "day-1c")

    assert resumed["crm_customers"].status == "staged"
    assert open_alerts(catalog, "schema_drift").height == 0
    # Nothing was lost while paused: staging equals the source, the held change included.
    customers = _rows(catalog, staging.CRM_CUSTOMERS.identifier_name).sort("customer_id")
    source = source_rows(settings).sort("customer_id")
    assert customers["customer_id"].to_list() == source["customer_id"].to_list()
    assert "moved@example.com" in customers["email"].to_list()


def _contents(catalog: Catalog) -> dict[str, pl.DataFrame]:
    return {
        name: table_rows(catalog, staged.target).sort(staged.target.column_names, nulls_last=True)
        for name, staged in STAGED.items()
    }


def test_incremental_staging_equals_a_full_rebuild(faulty: Settings) -> None:
    catalog = open_catalog(faulty)
    incremental = _contents(catalog)
    quarantined = _rows(catalog, ops.QUARANTINE.identifier_name).height

    rebuilt = stage_everything(faulty, catalog, "rebuild", full=True)

    assert {o.status for o in rebuilt.values()} == {"staged"}
    full = _contents(catalog)
    for name, frame in incremental.items():
        assert frame.height > 0, name
        assert frame.equals(full[name]), name
    # The rebuild re-read every batch but recorded no quarantine row twice.
    assert _rows(catalog, ops.QUARANTINE.identifier_name).height == quarantined


def test_a_crash_between_commits_is_finished_by_the_next_run_without_duplicates(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staging crashes after committing its quarantine but before the staging table: every
    table stays readable, and the re-run stages the batch once, quarantine not doubled."""
    settings = make_settings(
        scale="tiny", simulator={"faults": ["null_keys", "duplicate_keys"], "fault_day": 1}
    )
    catalog = open_catalog(settings)
    simulate(settings)
    ingest_everything(settings, catalog, "day-0")
    stage_everything(settings, catalog, "day-0")
    simulate(settings, days=1)
    ingest_everything(settings, catalog, "day-1")
    staged = STAGED["vendor_products"]
    before = _rows(catalog, ops.QUARANTINE.identifier_name).height
    real_write = stage_module.write

    def crash_on_staging(catalog: Catalog, definition: TableDef, *args: Any, **kw: Any) -> Any:
        if definition is staged.target:
            raise OSError("disk gone")
        return real_write(catalog, definition, *args, **kw)

    monkeypatch.setattr(stage_module, "write", crash_on_staging)
    contract = load_contracts()[staged.feed]
    with pytest.raises(OSError, match="disk gone"):
        stage_table(catalog, staged, contract, run_id="crashed")
    held = _rows(catalog, ops.QUARANTINE.identifier_name).height
    assert held > before  # the quarantine committed before the crash
    assert _rows(catalog, staging.VENDOR_PRODUCT_FEED.identifier_name).height > 0

    monkeypatch.setattr(stage_module, "write", real_write)
    outcome = stage_table(catalog, staged, contract, run_id="re-run")

    assert outcome.status == "staged"
    assert _rows(catalog, ops.QUARANTINE.identifier_name).height == held
    books = _rows(catalog, ops.STAGING_BATCHES.identifier_name).filter(
        pl.col("feed") == staged.feed
    )
    assert books["batch_id"].is_unique().all()
    assert (books["raw_rows"] == books["staged_rows"] + books["quarantined_rows"]).all()
