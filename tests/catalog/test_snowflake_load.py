"""Loading staging tables into Snowflake (a fakesnow server) through the real connector:
every row arrives typed as declared, and a reload replaces rather than duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog import Catalog
from snowflake.connector import SnowflakeConnection

from catalog.registry import ensure_all
from catalog.snowflake_load import SCHEMA, create_table_sql, load_staging
from catalog.tables import staging
from catalog.writer import write
from tests.dbt.fakesnow_server import running_fakesnow

DATABASE = "C360_LOAD_TEST"
PAYMENTS = staging.ORDERS_PAYMENTS


@pytest.fixture(scope="module")
def snowflake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnowflakeConnection]:
    with (
        running_fakesnow(tmp_path_factory.mktemp("fakesnow")) as server,
        server.connect(DATABASE) as con,
    ):
        con.cursor().execute(f"create database if not exists {DATABASE}")
        yield con


def _payments(count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "payment_id": [f"Y{i:03d}" for i in range(count)],
            "order_id": [f"O{i:03d}" for i in range(count)],
            "method": ["card"] * count,
            "amount": [Decimal("-12.34") if i % 2 else Decimal("100.10") for i in range(count)],
            "paid_at": [datetime(2026, 1, 1, 12, i, tzinfo=UTC) for i in range(count)],
            "updated_at": [datetime(2026, 1, 2, tzinfo=UTC)] * count,
        }
    )


def _loaded(snowflake: SnowflakeConnection) -> pl.DataFrame:
    with snowflake.cursor() as cursor:
        cursor.execute(
            f"select payment_id, amount, paid_at from {DATABASE}.{SCHEMA}.PAYMENTS"
            " order by payment_id"
        )
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=["payment_id", "amount", "paid_at"], orient="row")


def test_a_reload_replaces_the_table_with_the_lakehouse_rows(
    catalog: Catalog, snowflake: SnowflakeConnection, tmp_path: Path
) -> None:
    ensure_all(catalog)
    first = _payments(4)
    arrow = first.to_arrow().cast(PAYMENTS.schema().as_arrow())
    write(catalog, PAYMENTS, arrow, batch_id="b1", run_id="r1", mode="overwrite")

    counts = load_staging(catalog, snowflake, DATABASE, tables=[PAYMENTS])
    again = load_staging(catalog, snowflake, DATABASE, tables=[PAYMENTS])

    assert counts == again == {"payments": 4}
    loaded = _loaded(snowflake)
    assert loaded["payment_id"].to_list() == first["payment_id"].to_list()
    assert loaded["amount"].to_list() == first["amount"].to_list()
    assert [t.astimezone(UTC) for t in loaded["paid_at"]] == first["paid_at"].to_list()


def test_each_staging_table_has_a_snowflake_table_typed_as_declared() -> None:
    sql = create_table_sql(PAYMENTS, DATABASE)
    assert sql.splitlines()[0] == f"create or replace table {DATABASE}.{SCHEMA}.PAYMENTS ("
    assert '"PAYMENT_ID" VARCHAR NOT NULL' in sql
    assert '"AMOUNT" NUMBER(12, 2)' in sql
    assert '"PAID_AT" TIMESTAMP_TZ' in sql
    for table in staging.TABLES:
        assert create_table_sql(table, DATABASE).count('"') == 2 * len(table.columns)
