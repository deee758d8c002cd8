"""dim_customer's SCD2 history against the simulator's truth.

The pipeline lives several simulated days at `tiny` scale, one at a time (simulate, ingest,
stage, resolve, the snapshot's upstream models, `dbt snapshot`), then builds dim_customer
and its invariant tests. Every life event is looked for in dim_customer at its day's
snapshot time, on the customer keys of the person's records it changed.

A life event is observable when it changed a source record the tracked attributes are read
from: a CRM record's address, email, last name or activity (or deleted it), a loyalty
card's email, last name or status. A person with neither (only orders or clickstream)
moves, or changes name, without any source saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.reader import read_rows
from catalog.tables import staging
from flows.model import run_dbt
from flows.resolve import resolve_lakehouse
from simulator.clock import day_start
from simulator.truth import read_life_events, read_records
from simulator.world import simulate
from tests.dbt.world_settings import isolated_settings
from tests.flows.lakehouse_days import ingest_everything, stage_everything

pytestmark = pytest.mark.slow

# Life events are rare (a few a day at `tiny`): with this seed the first three days bring
# two or more of every kind (the default seed has no name change before day 6).
SEED, DAYS = 37, 3
RECORD = ["source", "source_record_id"]
# What each life event changes in the sources the tracked attributes come from, and the
# dim_customer columns that must show it.
SOURCE_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "move": {"crm": ("street", "city", "state", "postcode")},
    "new_email": {"crm": ("email",), "loyalty": ("email",)},
    "name_change": {"crm": ("last_name",), "loyalty": ("last_name",)},
    "churn": {"crm": ("is_active",), "loyalty": ("status",)},
}
DIM_COLUMNS: dict[str, tuple[str, ...]] = {
    "move": ("street", "city", "state", "postcode", "country"),
    "new_email": ("email",),
    "name_change": ("last_name",),
    "churn": ("account_status", "segment"),
}
TRACKED_SOURCES = {
    "crm": (staging.CRM_CUSTOMERS, "customer_id"),
    "loyalty": (staging.VENDOR_LOYALTY_MEMBERS, "member_id"),
}


@dataclass(frozen=True)
class History:
    """The days lived: each life event, whether a source showed it and dim_customer did."""

    events: pl.DataFrame  # day, person_id, event, is_observable, is_reflected
    dim_customer: pl.DataFrame
    snapshot_rows: int  # in the snapshot before the last day was snapshotted again

    def summary(self) -> pl.DataFrame:
        return (
            self.events.group_by("event")
            .agg(
                total=pl.len(),
                observable=pl.col("is_observable").sum(),
                reflected=(pl.col("is_observable") & pl.col("is_reflected")).sum(),
            )
            .sort("event")
        )


@dataclass(frozen=True)
class Day:
    """What the lakehouse held after resolving one day: tracked source values and keys."""

    values: pl.DataFrame  # source, source_record_id, column, value (all as text)
    keys: pl.DataFrame  # source, source_record_id, customer_key


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    settings = isolated_settings(tmp_path_factory.mktemp("scd2"), scale="tiny", seed=SEED)
    return _live(settings, open_catalog(settings))


def _live(settings: Settings, catalog: Catalog) -> History:
    days = []
    for day in range(DAYS + 1):
        run_id = f"scd2-day-{day}"
        simulate(settings, days=min(day, 1))
        ingest_everything(settings, catalog, run_id)
        stage_everything(settings, catalog, run_id)
        resolve_lakehouse(catalog, settings.sources_dir / "truth", run_id=run_id)
        # The snapshot reads int_customers_enriched, a table: rebuild it from the day's data.
        run_dbt(settings, ["run", "--select", "+int_customers_enriched"])
        run_dbt(settings, ["snapshot"])
        days.append(_observe(catalog))
    database = str(settings.dbt_dir / "c360.duckdb")
    with duckdb.connect(database, read_only=True) as db:
        snapshot_rows = _count(db, "snapshots.snap_customers")
    # Snapshots the last day again, builds dim_customer and runs the SCD2 invariant tests.
    run_dbt(settings, ["build", "--select", "snap_customers+"])
    with duckdb.connect(database, read_only=True) as db:
        dim_customer = (
            db.sql("select * from marts.dim_customer")
            .pl()
            .with_columns(pl.col("valid_from", "valid_to").dt.convert_time_zone("UTC"))
        )
    records = read_records(settings.sources_dir / "truth")
    events = read_life_events(settings.sources_dir / "truth").sort("day", "person_id", "event")
    judged = [
        _judge(event, records, days[event["day"] - 1], days[event["day"]], dim_customer)
        for event in events.iter_rows(named=True)
    ]
    return History(
        events.with_columns(
            is_observable=pl.Series([observable for observable, _ in judged]),
            is_reflected=pl.Series([reflected for _, reflected in judged]),
        ),
        dim_customer,
        snapshot_rows,
    )


def _count(db: duckdb.DuckDBPyConnection, table: str) -> int:
    row = db.sql(f"select count(*) from {table}").fetchone()
    assert row is not None
    return int(row[0])


def _observe(catalog: Catalog) -> Day:
    values = []
    for source, (definition, id_column) in TRACKED_SOURCES.items():
        columns = sorted({c for kind in SOURCE_COLUMNS.values() for c in kind.get(source, ())})
        rows = read_rows(catalog, definition, columns=[id_column, *columns])
        values.append(
            rows.select(
                pl.lit(source).alias("source"),
                pl.col(id_column).alias("source_record_id"),
                *(pl.col(c).cast(pl.String) for c in columns),
            ).unpivot(index=RECORD, variable_name="column")
        )
    keys = read_rows(catalog, staging.CUSTOMER_XREF, columns=[*RECORD, "customer_key"])
    return Day(pl.concat(values), keys)


def _judge(
    event: dict[str, object],
    records: pl.DataFrame,
    before: Day,
    after: Day,
    dim_customer: pl.DataFrame,
) -> tuple[bool, bool]:
    """Whether a source showed the life event, and whether dim_customer did that day."""
    kind = str(event["event"])
    watched = pl.DataFrame(
        [(s, c) for s, columns in SOURCE_COLUMNS[kind].items() for c in columns],
        schema=["source", "column"],
        orient="row",
    )
    person_records = records.filter(pl.col("person_id") == event["person_id"]).select(RECORD)
    changed = (
        before.values.join(person_records, on=RECORD)
        .join(watched, on=["source", "column"])
        .join(after.values, on=[*RECORD, "column"], how="left", suffix="_after")
        # A record gone the next day is a churned customer deleted, not a move or rename.
        .filter(
            pl.col("value").ne_missing(pl.col("value_after"))
            & (pl.col("value_after").is_not_null() | pl.lit(kind == "churn"))
        )
        .select(RECORD)
        .unique()
    )
    if changed.is_empty():
        return False, False
    keys = (
        pl.concat([before.keys, after.keys])
        .join(changed, on=RECORD)
        .get_column("customer_key")
        .unique()
        .implode()
    )
    snapshot_at = day_start(int(str(event["day"])) + 1)
    versions = dim_customer.filter(pl.col("customer_key").is_in(keys))
    closed = versions.filter(pl.col("valid_to") == snapshot_at)
    opened = versions.filter(pl.col("valid_from") == snapshot_at)
    handed_over = closed.join(opened, on="customer_key", suffix="_next").filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_next")) for c in DIM_COLUMNS[kind])
    )
    deleted = closed.join(opened, on="customer_key", how="anti")
    return True, not handed_over.is_empty() or (kind == "churn" and not deleted.is_empty())


def test_the_days_bring_every_kind_of_observable_life_event(history: History) -> None:
    summary = history.summary()
    assert summary.filter(pl.col("observable") > 0)["event"].to_list() == sorted(DIM_COLUMNS), (
        summary
    )


def test_every_observable_life_event_is_a_new_version_on_its_day(history: History) -> None:
    missed = history.events.filter(pl.col("is_observable") & ~pl.col("is_reflected"))
    assert missed.is_empty(), f"{history.summary()}\nnot in dim_customer:\n{missed}"


def test_history_keeps_closed_versions_beside_one_current_per_customer(history: History) -> None:
    dim = history.dim_customer
    assert dim.filter(~pl.col("is_current")).height > 0
    current = dim.filter("is_current").group_by("customer_key").len()
    assert current["len"].max() == 1


def test_snapshotting_the_same_day_again_adds_no_version(history: History) -> None:
    assert history.dim_customer.height == history.snapshot_rows
