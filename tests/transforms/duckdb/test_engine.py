"""The DuckDB engine loads an Iceberg table's rows as pyiceberg reads them, and hands checked
rows back as the Polars engine does."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog

from catalog.contracts.rules import Rule, RuleKind
from catalog.tables import raw
from catalog.writer import fit_to_schema, write
from tests.transforms.duckdb.twins import relation
from transforms.duckdb.engine import ENGINE as DUCKDB
from transforms.engines import Source, check, get_engine

POLARS = get_engine("polars")
RULES = (
    Rule(RuleKind.PRIMARY_KEY, "order_id"),
    Rule(RuleKind.ACCEPTED_VALUES, "status", accepted=("placed", "shipped")),
    Rule(RuleKind.NOT_NULL, "currency"),
)


def _orders(batch: str, n: int, *, keyless: bool = False) -> pa.Table:
    at = datetime(2026, 1, 1, 10, 30, 0, 123456, tzinfo=UTC)
    return pa.table(
        {
            "order_id": [None if keyless and i % 5 == 0 else f"{batch}-{i}" for i in range(n)],
            "customer_id": [None] * n,
            "email": [" A@B.C "] * n,
            "phone": ["555-123-4567"] * n,
            "status": [["placed", "lost", None][i % 3] for i in range(n)],
            "order_total": pa.array([Decimal(f"{i}.05") for i in range(n)], pa.decimal128(12, 2)),
            "currency": [None if i % 4 == 0 else "USD" for i in range(n)],
            "ordered_at": [at] * n,
            "updated_at": [at] * n,
            "_cdc_operation": ["insert"] * n,
            "_source_committed_at": [at] * n,
            "_source": ["orders.orders"] * n,
            "_batch_id": [batch] * n,
            "_ingested_at": [at] * n,
            "_source_file": [None] * n,
            "_source_position": [None] * n,
        }
    )


def test_loads_batches_as_pyiceberg_reads_them(catalog: Catalog) -> None:
    write(catalog, raw.ORDERS_ORDERS, _orders("b1", 7), batch_id="b1", run_id="r")
    write(catalog, raw.ORDERS_ORDERS, _orders("b2", 3), batch_id="b2", run_id="r")
    table = catalog.load_table(raw.ORDERS_ORDERS.identifier_name)
    schema = table.schema()

    for batches in [None, frozenset({"b2"}), frozenset()]:
        source = Source(table, table.metadata.current_snapshot_id, batches)
        loaded = DUCKDB.to_arrow(DUCKDB.load(source))

        assert loaded.column_names == source.schema().names
        assert loaded.schema.field("updated_at").type == pa.timestamp("us", "UTC")
        assert (
            fit_to_schema(loaded, schema, "duckdb").to_pylist()
            == fit_to_schema(source.to_arrow(), schema, "pyiceberg").to_pylist()
        )


def test_the_engine_is_the_one_get_engine_gives() -> None:
    assert get_engine("duckdb") is DUCKDB


def test_checked_rows_split_as_the_polars_engine_splits_them() -> None:
    rows = pl.from_arrow(_orders("b1", 12, keyless=True))
    assert isinstance(rows, pl.DataFrame)
    by_polars = check("polars", rows.lazy(), RULES)
    by_duckdb = check("duckdb", relation(rows), RULES)
    columns = ["order_id", "_batch_id"]

    for passing in [(), ("accepted_values",), ("accepted_values", "not_null")]:
        accepted = DUCKDB.to_arrow(DUCKDB.accepted(by_duckdb, passing))
        expected = POLARS.to_arrow(POLARS.accepted(by_polars, passing))
        assert accepted.column_names == expected.column_names == rows.columns
        assert accepted.to_pylist() == expected.to_pylist()
    violations = DUCKDB.violations(by_duckdb, columns)
    assert violations.to_pylist() == POLARS.violations(by_polars, columns).to_pylist()
    assert violations.num_rows > 0
    accepted = DUCKDB.accepted(by_duckdb)
    assert DUCKDB.counts(accepted, "_batch_id") == POLARS.counts(
        POLARS.accepted(by_polars), "_batch_id"
    )


def test_timestamps_come_back_in_utc_and_values_keep_their_types() -> None:
    table = pa.table(
        {
            "at": pa.array([datetime(2026, 1, 1, 23, 30, tzinfo=UTC)], pa.timestamp("us", "UTC")),
            "day": [date(2026, 1, 1)],
            "money": pa.array([Decimal("12.34")], pa.decimal128(12, 2)),
            "count": pa.array([3], pa.int32()),
        }
    )

    back = DUCKDB.to_arrow(DUCKDB.relation(table))

    assert back.schema == table.schema
    assert back.equals(table)


def test_each_thread_has_its_own_connection() -> None:
    connections = []
    thread = threading.Thread(target=lambda: connections.append(DUCKDB.connection))
    thread.start()
    thread.join()

    assert connections[0] is not DUCKDB.connection
    assert DUCKDB.connection is DUCKDB.connection
    assert connections[0].sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
