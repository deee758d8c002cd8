"""Incremental models: building day by day equals a full refresh of the last day's inputs.

A `tiny` world lives four simulated days, one pipeline run each (simulate, ingest, stage,
resolve, then the pipeline's dbt build), so the incremental models grow run by run. With
this seed, resolution re-keys some already-modelled clickstream events between days (people
merged or split) and late events arrive into old sessions: what the incremental runs must
follow. Then the same inputs are built again, incrementally with nothing new, and with
`--full-refresh`; every mart, and every incremental model, holds the same rows each way.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.reader import read_rows
from catalog.tables import curated, staging
from flows.model import excluding, run_dbt
from flows.resolve import resolve_lakehouse
from simulator.world import simulate
from tests.dbt.world_settings import isolated_settings
from tests.flows.lakehouse_days import ingest_everything, stage_everything

pytestmark = pytest.mark.slow

SEED, DAYS = 37, 4
RELATIONS = (
    *(f"marts.{table.name}" for table in curated.TABLES),
    "intermediate.int_events_sessionised",
    "intermediate.int_identities_aggregated",
)
INCREMENTAL = "intermediate.int_events_sessionised"


@dataclass(frozen=True)
class Built:
    """Every relation as each way of building the last day left it."""

    day_by_day: dict[str, pl.DataFrame]
    again: dict[str, pl.DataFrame]  # one more incremental build with nothing new
    full_refresh: dict[str, pl.DataFrame]
    rekeyed_events: int  # modelled clickstream events a later day's resolution re-keyed
    late_events: int


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return isolated_settings(tmp_path_factory.mktemp("incremental"), scale="tiny", seed=SEED)


@pytest.fixture(scope="module")
def built(settings: Settings) -> Built:
    catalog = open_catalog(settings)
    rekeyed = 0
    for day in range(DAYS):
        run_id = f"incremental-day-{day}"
        simulate(settings, days=min(day, 1))
        ingest_everything(settings, catalog, run_id)
        stage_everything(settings, catalog, run_id)
        resolve_lakehouse(catalog, settings.sources_dir / "truth", run_id=run_id)
        if day > 0:
            rekeyed += _rekeyed(_modelled_keys(settings), _resolved_keys(catalog))
        _build(settings)
    day_by_day = _relations(settings)
    _build(settings)
    again = _relations(settings)
    _build(settings, "--full-refresh")
    late = read_rows(catalog, staging.CLICKSTREAM_EVENTS, columns=["is_late"])["is_late"].sum()
    return Built(day_by_day, again, _relations(settings), rekeyed, int(late))


def _build(settings: Settings, *flags: str) -> None:
    # The pipeline's build: what its model step runs every day.
    run_dbt(settings, ["build", *excluding([]), *flags])


def _database(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.dbt_dir / "c360.duckdb"), read_only=True)


def _modelled_keys(settings: Settings) -> pl.DataFrame:
    """Each clickstream event's person as the last build modelled it."""
    with _database(settings) as db:
        return db.sql(f"select event_id, customer_key from {INCREMENTAL}").pl()


def _resolved_keys(catalog: Catalog) -> pl.DataFrame:
    """Each clickstream event's person as the xref has it now."""
    xref = read_rows(
        catalog, staging.CUSTOMER_XREF, columns=["source", "source_record_id", "customer_key"]
    )
    return xref.filter(pl.col("source") == "clickstream").select(
        pl.col("source_record_id").alias("event_id"), "customer_key"
    )


def _rekeyed(modelled: pl.DataFrame, resolved: pl.DataFrame) -> int:
    """How many modelled events resolution has put with another person since."""
    joined = modelled.join(resolved, on="event_id", how="left", suffix="_now")
    return joined.filter(pl.col("customer_key").ne_missing(pl.col("customer_key_now"))).height


def _relations(settings: Settings) -> dict[str, pl.DataFrame]:
    with _database(settings) as db:
        return {name: _sorted(db.sql(f"select * from {name}").pl()) for name in RELATIONS}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_the_days_re_key_modelled_events_and_bring_late_ones(built: Built) -> None:
    assert built.rekeyed_events > 0
    assert built.late_events > 0


@pytest.mark.parametrize("relation", RELATIONS)
def test_building_day_by_day_equals_a_full_refresh(built: Built, relation: str) -> None:
    assert built.full_refresh[relation].height > 0
    assert_frame_equal(built.day_by_day[relation], built.full_refresh[relation])


@pytest.mark.parametrize("relation", RELATIONS)
def test_building_again_with_nothing_new_changes_nothing(built: Built, relation: str) -> None:
    assert_frame_equal(built.again[relation], built.day_by_day[relation])


def test_a_table_an_older_model_built_is_rebuilt_in_full(settings: Settings, built: Built) -> None:
    database = str(settings.dbt_dir / "c360.duckdb")
    with duckdb.connect(database) as db:
        db.execute(f"alter table {INCREMENTAL} drop column session_searches")
    _build(settings)
    with _database(settings) as db:
        rebuilt = _sorted(db.sql(f"select * from {INCREMENTAL}").pl())
    assert_frame_equal(rebuilt, built.full_refresh[INCREMENTAL])
