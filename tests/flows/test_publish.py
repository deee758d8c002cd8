"""Publishing dbt's marts: each curated table holds exactly its model's rows after a
publish, and a publish of rows the table holds already commits nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from bench.workloads.api_lookup import synthetic_curated
from catalog.content import frame_digest, table_digest
from catalog.registry import ensure_table
from flows.publish import PUBLISHED, publish_model, publish_models

ORDERS = "marts.fct_orders"
CUSTOMERS = "marts.customer_360"


@pytest.fixture(scope="module")
def day_one() -> dict[str, pa.Table]:
    tables = synthetic_curated(100, seed=11).tables
    return {ORDERS: tables["fct_orders"], CUSTOMERS: tables["customer_360"]}


def next_day(orders: pa.Table) -> pa.Table:
    """The orders a day on: one cancelled, one gone, two new."""
    frame = pl.from_arrow(orders)
    assert isinstance(frame, pl.DataFrame)
    first, second = frame["order_id"][:2]
    new = frame.head(2).with_columns(order_id=pl.Series(["N1", "N2"]))
    return pl.concat(
        [
            frame.filter(pl.col("order_id") != second).with_columns(
                status=pl.when(pl.col("order_id") == first)
                .then(pl.lit("cancelled"))
                .otherwise("status")
            ),
            new,
        ]
    ).to_arrow()


def dbt_file(path: Path, models: dict[str, pa.Table]) -> Path:
    """A dbt DuckDB file holding `models` (relation -> rows), as `dbt build` leaves it."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        for relation, rows in models.items():
            con.register("model_rows", rows)
            con.execute(f"create table {relation} as select * from model_rows")
            con.unregister("model_rows")
    return path


def holds_exactly(catalog: Catalog, relation: str, rows: pa.Table) -> bool:
    """Whether the curated table of `relation` holds `rows`, as the content digest says."""
    definition = PUBLISHED[relation]
    table = ensure_table(catalog, definition)
    snapshot = table.current_snapshot()
    expected = pl.from_arrow(rows.cast(definition.schema().as_arrow()))
    assert isinstance(expected, pl.DataFrame)
    return table_digest(table, snapshot.snapshot_id if snapshot else None) == frame_digest(expected)


def snapshots(catalog: Catalog, relation: str) -> int:
    return len(ensure_table(catalog, PUBLISHED[relation]).snapshots())


def test_each_mart_holds_exactly_its_models_rows_after_a_publish(
    catalog: Catalog, day_one: dict[str, pa.Table], tmp_path: Path
) -> None:
    database = dbt_file(tmp_path / "c360.duckdb", day_one)
    first = publish_models(catalog, database, [ORDERS, CUSTOMERS], run_id="day-1")
    day_two = {**day_one, ORDERS: next_day(day_one[ORDERS])}
    dbt_file(database, day_two)

    second = publish_models(catalog, database, [ORDERS, CUSTOMERS], run_id="day-2")

    assert [w.skipped for w in first] == [False, False]
    assert [w.skipped for w in second] == [False, True]  # customer_360 did not change
    assert holds_exactly(catalog, ORDERS, day_two[ORDERS])
    assert holds_exactly(catalog, CUSTOMERS, day_two[CUSTOMERS])


def test_publishing_the_same_rows_again_commits_nothing(
    catalog: Catalog, day_one: dict[str, pa.Table], tmp_path: Path
) -> None:
    database = dbt_file(tmp_path / "c360.duckdb", day_one)
    publish_model(catalog, database, ORDERS, PUBLISHED[ORDERS], run_id="run-1")
    committed = snapshots(catalog, ORDERS)
    # The same rows in another order are the same content.
    shuffled = day_one[ORDERS].take(list(reversed(range(day_one[ORDERS].num_rows))))
    dbt_file(database, {ORDERS: shuffled})

    again = publish_model(catalog, database, ORDERS, PUBLISHED[ORDERS], run_id="run-2")

    assert again.skipped
    assert again.rows == 0
    assert snapshots(catalog, ORDERS) == committed


def test_a_model_back_to_the_rows_of_an_older_snapshot_is_published(
    catalog: Catalog, day_one: dict[str, pa.Table], tmp_path: Path
) -> None:
    database = tmp_path / "c360.duckdb"
    day_two = next_day(day_one[ORDERS])
    for rows in (day_one[ORDERS], day_two, day_one[ORDERS]):
        dbt_file(database, {ORDERS: rows})
        result = publish_model(catalog, database, ORDERS, PUBLISHED[ORDERS], run_id="run")
        assert not result.skipped

    assert holds_exactly(catalog, ORDERS, day_one[ORDERS])
