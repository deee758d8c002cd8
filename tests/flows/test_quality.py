"""Data quality: each SLO measured against the sources on a real tiny world, and caught when
the lakehouse (or the source) is made to break it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from prefect.logging import disable_run_logger
from pyiceberg.catalog import Catalog
from rich.console import Console

from c360.settings import Settings
from catalog.contracts import load_contracts
from catalog.tables import ops, raw, staging
from catalog.tables.definition import TableDef
from catalog.writer import write
from flows.quality import (
    ACCURACY,
    COMPLETENESS,
    SCHEMA_DRIFT,
    TIMELINESS,
    UNIQUENESS,
    DqResult,
    format_results,
    measure,
    quality_task,
    write_results,
)
from flows.quality.agreement import canonical
from flows.quality.sampling import sample_keys
from flows.stage import STAGED
from simulator.emitters.database import connect
from simulator.sources import crm, orders
from simulator.truth import read_manifest
from simulator.world import read_published, record_published, simulate
from tests.flows.crm_source import crm_url, table_rows
from tests.flows.lakehouse_days import ingest_everything, stage_everything

RUN = "run-1"
DB_FEEDS = (
    "crm_customers",
    "orders_products",
    "orders_orders",
    "orders_order_items",
    "orders_payments",
)


def _ingest_and_stage(settings: Settings, catalog: Catalog, run_id: str = RUN) -> None:
    """Every source family into raw, then every staged feed, as a run does."""
    ingest_everything(settings, catalog, run_id)
    stage_everything(settings, catalog, run_id)


@pytest.fixture
def world(make_settings: Callable[..., Settings], catalog: Catalog) -> Settings:
    """A tiny world, simulated, ingested and staged in run `RUN`, in `catalog`."""
    tiny = make_settings(scale="tiny")
    simulate(tiny)
    _ingest_and_stage(tiny, catalog)
    return tiny


def _by(results: list[DqResult]) -> dict[tuple[str, str], DqResult]:
    return {(r.feed, r.metric): r for r in results}


def _emitted(settings: Settings, dataset: str) -> int:
    manifest = read_manifest(settings.sources_dir / "truth")
    return int(manifest.filter(pl.col("dataset") == dataset)["rows"].sum())


def _replace_staging(catalog: Catalog, table: TableDef, rows: pl.DataFrame) -> None:
    write(catalog, table, rows, batch_id=f"test-{rows.height}", run_id="test", mode="overwrite")


def test_a_clean_run_meets_every_slo(world: Settings, catalog: Catalog) -> None:
    results = _by(measure(catalog, world, run_id=RUN))

    assert {feed for feed, _ in results} == set(load_contracts())
    assert len(results) == 11 * 5
    for feed in DB_FEEDS:
        dataset = f"{'crm' if feed == 'crm_customers' else 'orders'}.{feed.split('_', 1)[1]}"
        rows = _emitted(world, dataset)
        complete = results[feed, COMPLETENESS]
        assert (complete.value, complete.passed, complete.threshold) == (100.0, True, ">= 99.5")
        assert complete.detail == f"{rows:,} of {rows:,} rows in the source table {dataset} staged"
        unique = results[feed, UNIQUENESS]
        assert (unique.value, unique.passed, unique.threshold) == (0.0, True, "<= 0.1")
        accurate = results[feed, ACCURACY]
        assert (accurate.value, accurate.passed, accurate.threshold) == (100.0, True, ">= 99")
        sampled = min(rows, 500)
        assert accurate.detail.startswith(f"{sampled:,} of {sampled:,} sampled rows agree")
        timely = results[feed, TIMELINESS]
        assert (timely.value, timely.passed, timely.threshold) == (100.0, True, ">= 98")
        assert timely.detail.startswith(f"{rows:,} of {rows:,} rows ingested in run {RUN}")
    # The columns staging normalises are left out of the comparison; the others are in.
    assert (
        "(country, customer_id, is_active, lifetime_value, postcode, signup_date, state, "
        "updated_at)" in results["crm_customers", ACCURACY].detail
    )
    events = _emitted(world, "clickstream.distinct_events")
    assert results["clickstream_events", COMPLETENESS].detail == (
        f"{events:,} staged rows vs {events:,} distinct events put on the stream"
    )
    assert results["clickstream_events", ACCURACY].value == 100.0
    for feed in ("vendor_loyalty_members", "support_tickets"):
        assert results[feed, ACCURACY].value == 100.0
        assert results[feed, ACCURACY].detail.endswith("(1 of 1 files)")
        assert results[feed, TIMELINESS].value == 100.0
    # Whatever staging builds (vendor feeds and tickets included) is complete and unique.
    for staged in STAGED.values():
        assert results[staged.feed, COMPLETENESS].value == 100.0, staged.feed
        assert results[staged.feed, UNIQUENESS].value == 0.0, staged.feed
    for feed in load_contracts():
        drift = results[feed, SCHEMA_DRIFT]
        assert (drift.value, drift.passed, drift.threshold) == (0.0, True, "== 0")


def test_a_feed_not_staged_is_not_applicable_but_still_checked_where_it_can_be(
    world: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "flows.quality.tables.STAGED",
        {k: s for k, s in STAGED.items() if s.feed != "orders_orders"},
    )

    results = _by(measure(catalog, world, run_id=RUN, feeds=["orders_orders"]))

    for metric in (COMPLETENESS, UNIQUENESS, ACCURACY):
        result = results["orders_orders", metric]
        assert (result.value, result.passed, result.detail) == (None, None, "not staged yet")
    assert results["orders_orders", TIMELINESS].value == 100.0
    assert results["orders_orders", SCHEMA_DRIFT].value == 0.0


def test_completeness_drops_when_staging_loses_rows(world: Settings, catalog: Catalog) -> None:
    staged = table_rows(catalog, staging.CRM_CUSTOMERS).sort("customer_id")
    _replace_staging(catalog, staging.CRM_CUSTOMERS, staged.slice(10))

    (result,) = [
        r
        for r in measure(catalog, world, run_id=RUN, feeds=["crm_customers"])
        if r.metric == COMPLETENESS
    ]

    n = staged.height
    assert result.value == pytest.approx(100 * (n - 10) / n)
    assert result.passed is False
    assert result.detail == f"{n - 10:,} of {n:,} rows in the source table crm.customers staged"


def test_completeness_drops_when_the_source_has_rows_not_ingested(
    world: Settings, catalog: Catalog
) -> None:
    before = table_rows(catalog, staging.CRM_CUSTOMERS).height
    engine = connect(crm_url(world))
    with engine.begin() as conn:
        conn.execute(
            crm.CUSTOMERS.insert(),
            [{"customer_id": f"C9900000{i}", "updated_at": datetime(2026, 1, 2)} for i in range(5)],
        )
        # And one the source deleted: staging still has it.
        conn.execute(crm.CUSTOMERS.delete().where(crm.CUSTOMERS.c.customer_id == "C00000001"))
    engine.dispose()

    (result,) = [
        r
        for r in measure(catalog, world, run_id=RUN, feeds=["crm_customers"])
        if r.metric == COMPLETENESS
    ]

    source = before + 5 - 1
    assert result.value == pytest.approx(100 * (before - 1) / source)
    assert result.passed is False
    assert result.detail == (
        f"{before - 1:,} of {source:,} rows in the source table crm.customers staged; "
        "1 staged rows the source no longer has"
    )


def test_uniqueness_catches_duplicated_staging_rows(world: Settings, catalog: Catalog) -> None:
    staged = table_rows(catalog, staging.ORDERS_ORDERS)
    _replace_staging(catalog, staging.ORDERS_ORDERS, pl.concat([staged, staged.head(5)]))

    result = _by(measure(catalog, world, run_id=RUN, feeds=["orders_orders"]))[
        "orders_orders", UNIQUENESS
    ]

    assert result.value == pytest.approx(100 * 5 / (staged.height + 5))
    assert result.passed is False
    assert result.detail == (
        f"5 of {staged.height + 5:,} staged rows repeat an earlier row's order_id"
    )


def test_accuracy_catches_staged_values_that_differ_from_the_source(
    world: Settings, catalog: Catalog
) -> None:
    staged = table_rows(catalog, staging.ORDERS_ORDERS)
    sample = sample_keys(staged["order_id"])
    altered, renormalised = sample[:10], sample[10:30]
    changed = staged.with_columns(
        status=pl.when(pl.col("order_id").is_in(altered)).then(pl.lit("lost")).otherwise("status"),
        # Contacts are staging's to rewrite: a different email is not an error.
        email=pl.when(pl.col("order_id").is_in(renormalised))
        .then(pl.lit("someone@else.example"))
        .otherwise("email"),
    )
    _replace_staging(catalog, staging.ORDERS_ORDERS, changed)

    result = _by(measure(catalog, world, run_id=RUN, feeds=["orders_orders"]))[
        "orders_orders", ACCURACY
    ]

    assert len(sample) == 500
    assert result.value == pytest.approx(100 * 490 / 500)
    assert result.passed is False
    assert result.detail.startswith("490 of 500 sampled rows agree with orders.orders")


def test_accuracy_of_events_and_files(world: Settings, catalog: Catalog) -> None:
    events = table_rows(catalog, staging.CLICKSTREAM_EVENTS)
    (first,) = sample_keys(events["event_id"], 1)
    _replace_staging(
        catalog,
        staging.CLICKSTREAM_EVENTS,
        events.with_columns(
            page=pl.when(pl.col("event_id") == first).then(pl.lit("/x")).otherwise("page")
        ),
    )
    # A row that no file carried, appended to the loyalty file's rows.
    loyalty = table_rows(catalog, raw.VENDOR_LOYALTY_MEMBERS)
    write(catalog, raw.VENDOR_LOYALTY_MEMBERS, loyalty.head(1), batch_id="extra", run_id="x")

    results = _by(
        measure(catalog, world, run_id=RUN, feeds=["clickstream_events", "vendor_loyalty_members"])
    )

    stream = results["clickstream_events", ACCURACY]
    assert stream.value == pytest.approx(100 * 499 / 500)
    assert stream.passed is True
    assert "the stream keeps no state to ask" in stream.detail
    files = results["vendor_loyalty_members", ACCURACY]
    assert (files.value, files.passed) == (0.0, False)
    assert files.detail == (
        f"0 of {loyalty.height:,} rows in files whose checksum matches the manifest (0 of 1 files)"
    )


def test_timeliness_fails_when_the_data_waited_past_its_slo(
    world: Settings, catalog: Catalog
) -> None:
    (published,) = read_published(world).values()
    record_published(world, 0, published - timedelta(minutes=90))

    results = _by(measure(catalog, world, run_id=RUN))

    for feed in (*DB_FEEDS, "vendor_product_feed", "support_tickets"):
        result = results[feed, TIMELINESS]
        assert (result.value, result.passed) == (0.0, False), feed
        assert "captured within 60 min" in result.detail
    # The stream's lag runs from each record's arrival, not from the day's publication.
    assert results["clickstream_events", TIMELINESS].value == 100.0


def test_timeliness_without_a_publication_log_or_a_batch_in_the_run(
    world: Settings, catalog: Catalog
) -> None:
    (world.home / "published.json").unlink()

    results = _by(measure(catalog, world, run_id="a-later-run", feeds=["orders_payments"]))

    result = results["orders_payments", TIMELINESS]
    rows = _emitted(world, f"{orders.NAME}.payments")
    assert (result.value, result.passed) == (None, None)
    assert result.detail == (
        f"{rows:,} rows of the last batch (none ingested in this run): {rows:,} rows not timed "
        "(no publication time for day 0: simulated before the publication log?)"
    )


def test_schema_drift_counts_unaccepted_changes(world: Settings, catalog: Catalog) -> None:
    changes = pl.DataFrame(
        {
            "table_name": "raw.vendor_marketing_list",
            "column_name": ["Email", "E-mail Address"],
            "change": ["added", "removed"],
            "detected_at": datetime.now(UTC),
            "batch_id": "b",
        }
    )
    write(catalog, ops.SCHEMA_CHANGES, changes, batch_id="drift", run_id=RUN)

    results = _by(measure(catalog, world, run_id=RUN, feeds=["vendor_marketing_list"]))

    drift = results["vendor_marketing_list", SCHEMA_DRIFT]
    assert (drift.value, drift.passed) == (2.0, False)
    assert drift.detail == "E-mail Address removed; Email added"


def test_results_are_written_once_per_run(world: Settings, catalog: Catalog) -> None:
    with disable_run_logger():
        results = quality_task.fn(world, RUN)
        again = quality_task.fn(world, RUN)
    write_results(catalog, results[:5], run_id="run-2")

    stored = table_rows(catalog, ops.DQ_RESULTS)
    assert len(again) == len(results) == 55
    assert stored.group_by("run_id").len().sort("run_id").rows() == [(RUN, 55), ("run-2", 5)]
    mine = stored.filter(pl.col("run_id") == RUN).sort("feed", "metric")
    expected = sorted(results, key=lambda r: (r.feed, r.metric))
    assert mine["value"].to_list() == [r.value for r in expected]
    assert mine["passed"].to_list() == [r.passed for r in expected]
    assert mine["detail"].to_list() == [r.detail for r in expected]


def test_the_summary_table_shows_each_verdict() -> None:
    results = [
        DqResult("orders_orders", COMPLETENESS, 98.5, ">= 99.5", False, "x"),
        DqResult("orders_orders", UNIQUENESS, 0.0, "<= 0.1", True, "x"),
        DqResult("orders_orders", ACCURACY, None, ">= 99", None, "not staged yet"),
        DqResult("orders_orders", SCHEMA_DRIFT, 2.0, "== 0", False, "x"),
    ]
    console = Console(width=200, record=True)

    console.print(format_results(results))

    (row,) = [line for line in console.export_text().splitlines() if "orders_orders" in line]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["orders_orders", "98.50% FAIL", "0.00% PASS", "n/a", "n/a", "2 FAIL"]


def test_canonical_text_agrees_across_drivers() -> None:
    naive = datetime(2026, 1, 1, 12, 0, 0, 5)
    assert (
        canonical(naive)
        == canonical(naive.replace(tzinfo=UTC))
        == ("2026-01-01T12:00:00.000005+00:00")
    )
    assert canonical(Decimal("12.50")) == canonical(Decimal("12.5")) == "12.5"
    assert canonical(Decimal("100.00")) == "100"
    assert canonical(None) != canonical("")
    assert canonical(True) == "true"
