"""`c360 report` and the observability it draws on, over a two-day `tiny` lakehouse: every
step and feed recorded and reconciled with the simulator's truth, and the dashboard drawn
in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from c360.settings import REPO_ROOT
from catalog.factory import open_catalog
from catalog.writer import RUN_ID
from flows.observe import health
from flows.observe.freshness import FEEDS
from flows.observe.report import REPORT_FILE
from simulator.truth import read_manifest
from simulator.world import read_published
from tests.headless_chromium import browse
from tests.observed_world import DAYS, observed_world
from tests.pipeline_checks import RAW_TABLES, Lakehouse, c360, ran
from tests.prefect_server import PrefectServer

pytestmark = pytest.mark.slow

STEPS = ["simulate", "ingest", "stage", "resolve", "quality", "model", "publish", "record"]
CHARTS = 6
WINDOW = (1400, 2200)
# Set to a path (`just screenshot` sets docs/report.png) to keep the capture.
DOCS_SCREENSHOT_ENV = "DOCS_REPORT_SCREENSHOT"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer) -> Lakehouse:
    return observed_world(tmp_path_factory, prefect_server.api_url)


def test_every_run_records_its_steps_reconciled_with_what_the_sources_emitted(
    world: Lakehouse,
) -> None:
    steps = world.rows("ops.run_steps")
    runs = world.rows("ops.pipeline_runs")
    emitted = read_manifest(world.settings.sources_dir / "truth").filter(
        pl.col("dataset") != "clickstream.distinct_events"
    )

    assert runs.height == DAYS + 1
    for run_id in runs["run_id"]:
        mine = steps.filter(pl.col("run_id") == run_id).sort("started_at")
        assert mine["step"].to_list() == STEPS
        assert set(mine["status"]) == {"completed"}
        assert (mine["duration_s"] > 0).all()
    # What the captures landed is every row the sources emitted, and all raw holds (their
    # commits also add a ledger row per landed file).
    ingest = steps.filter(pl.col("step") == "ingest")
    raw_rows = sum(world.rows(name).height for name in RAW_TABLES)
    assert raw_rows == emitted["rows"].sum()
    assert ingest["rows_out"].sum() == raw_rows + world.rows("ops.ingest_ledger").height
    assert (ingest["rows_in"] == ingest["rows_out"]).all()
    # Staging read exactly the raw rows it booked, batch by batch.
    books = world.rows("ops.staging_batches").group_by("run_id").agg(pl.col("raw_rows").sum())
    staged = steps.filter(pl.col("step") == "stage").join(books, on="run_id")
    assert (staged["rows_in"] == staged["raw_rows"]).all()
    # Every commit a run made, in any table of any zone, falls in one of its steps, except
    # the observation's own (its steps, freshness and alerts, after the last step).
    catalog = world.catalog()
    for run_id in runs["run_id"]:
        commits = [
            (name, snapshot)
            for zone in catalog.list_namespaces()
            for name in catalog.list_tables(zone)
            for snapshot in catalog.load_table(name).snapshots()
            if snapshot.summary is not None and snapshot.summary.get(RUN_ID) == run_id
        ]
        observed = {("ops", "run_steps"), ("ops", "source_freshness"), ("ops", "alerts")}
        stepped = [c for c in commits if c[0] not in observed]
        mine = steps.filter(pl.col("run_id") == run_id)
        assert mine["snapshots_created"].sum() == len(stepped)
        assert mine["bytes_written"].sum() == sum(
            int(s.summary.get("added-files-size") or 0) for _, s in stepped if s.summary
        )


def test_every_run_measures_each_feeds_freshness_and_a_clean_run_raises_no_alert(
    world: Lakehouse,
) -> None:
    freshness = world.rows("ops.source_freshness")
    runs = world.rows("ops.pipeline_runs")
    published = read_published(world.settings)

    assert freshness.height == len(FEEDS) * runs.height
    # Every run captured what its day published: nothing waits, every feed is fresh.
    assert (freshness["replication_lag_s"] == 0).all()
    last = freshness.filter(pl.col("run_id") == runs.sort("started_at")["run_id"][-1])
    daily = last.filter(pl.col("feed").is_in(["crm_customers", "vendor_loyalty_members"]))
    assert set(daily["newest_at"]) == {published[DAYS]}
    assert (last["freshness_lag_s"] >= 0).all()
    assert dict(last.select("feed", "tier").rows())["clickstream_events"] == 0
    assert world.rows("ops.alerts").is_empty()
    compliance = health.slo_compliance(open_catalog(world.settings), published)
    assert compliance["days"].to_list() == [DAYS + 1] * 4
    assert compliance.filter(pl.col("tier") > 0)["compliance_pct"].to_list() == [100.0] * 3


def test_the_report_draws_every_chart_in_headless_chromium(
    world: Lakehouse, tmp_path: Path
) -> None:
    result = c360(world.home, "report", env=world.env)
    ran(result)
    page = world.home / "reports" / REPORT_FILE
    assert str(page) in result.stdout.replace("\n", "")
    text = page.read_text()
    # Readable offline: no script is fetched from anywhere.
    assert not re.search(r"<script[^>]+src=", text)
    assert f"{DAYS + 1} runs; newest" in text
    assert "no open alerts" in text

    window = f"{WINDOW[0]},{WINDOW[1]}"
    dom = browse(page.as_uri(), tmp_path / "dom", "--dump-dom", window=window, budget_ms=10000)
    png = tmp_path / "report.png"
    browse(page.as_uri(), tmp_path / "shot", f"--screenshot={png}", window=window, budget_ms=10000)

    assert f'data-charts-drawn="{CHARTS}"' in dom
    with Image.open(png) as image:
        pixels = image.convert("RGB")
    assert pixels.size == WINDOW
    colours = pixels.getcolors(maxcolors=pixels.width * pixels.height)
    assert colours is not None
    # Drawn: charts, text and tables in many colours, none covering most of the page.
    assert len(colours) > 200
    assert max(count for count, _ in colours) < 0.9 * pixels.width * pixels.height
    if keep := os.environ.get(DOCS_SCREENSHOT_ENV):
        target = REPO_ROOT / keep
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
