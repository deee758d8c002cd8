"""A tiny lakehouse that lived two simulated days, built once for the API tests, and the
API serving it on a real uvicorn server.

Day 0 runs the pipeline's steps as plain functions; day 1 publishes through the real
`publish` flow (on the session's Prefect server), whose hook builds the serving copy every
test here reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from pyiceberg.catalog import Catalog, load_catalog

from api.app import create_app
from api.serving_copy import serving_path
from c360.settings import Settings, load_settings
from catalog.factory import catalog_properties, open_catalog
from flows.model import run_dbt
from flows.publish import PUBLISHED, publish_flow, publish_model
from flows.resolve import resolve_lakehouse
from simulator.world import simulate
from tests.api.servers import serving
from tests.flows.lakehouse_days import ingest_everything, stage_everything
from tests.prefect_server import PrefectServer

# Small, so that the tests see timelines cut to the newest few.
TIMELINE_LIMIT = 3


@dataclass(frozen=True)
class ApiLakehouse:
    """A home with curated tables and their serving copy, and the settings that read it."""

    home: Path
    settings: Settings

    def catalog(self) -> Catalog:
        # Only what any outside reader has: the catalog properties `c360 catalog` prints.
        return load_catalog("c360", **catalog_properties(self.settings.resolved_catalog()))

    def curated(self, name: str) -> pl.DataFrame:
        frame = pl.from_arrow(self.catalog().load_table(f"curated.{name}").scan().to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame


def _live_day(settings: Settings, catalog: Catalog, day: int) -> None:
    run_id = f"day-{day}"
    simulate(settings, days=1 if day else 0)
    ingest_everything(settings, catalog, run_id)
    stage_everything(settings, catalog, run_id)
    resolve_lakehouse(catalog, settings.sources_dir / "truth", run_id=run_id)
    run_dbt(settings, ["build"])


@pytest.fixture(scope="session")
def api_lakehouse(
    tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer
) -> ApiLakehouse:
    """A tiny world after two days, published, with its serving copy."""
    home = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)  # so a developer's `.env` in the repo is not read
        settings = load_settings(home=home, scale="tiny", api={"timeline_limit": TIMELINE_LIMIT})
        catalog = open_catalog(settings)
        _live_day(settings, catalog, 0)
        for relation, table in PUBLISHED.items():
            publish_model(
                catalog, settings.dbt_dir / "c360.duckdb", relation, table, run_id="day-0"
            )
        _live_day(settings, catalog, 1)
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
            publish_flow(settings, "day-1")
    return ApiLakehouse(home, settings)


@pytest.fixture(scope="session")
def api_url(api_lakehouse: ApiLakehouse) -> Iterator[str]:
    """The base URL of the API over the lakehouse's serving copy (no API key)."""
    assert serving_path(api_lakehouse.settings).exists()
    with serving(create_app(api_lakehouse.settings)) as url:
        yield url


@pytest.fixture
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=10) as http:
        yield http
