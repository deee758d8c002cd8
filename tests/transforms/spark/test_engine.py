"""The Spark engine loads an Iceberg table's rows from its Parquet files as pyiceberg reads
them, and hands checked rows back as the Polars engine does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.types import (
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    TimestamptzType,
)

from c360.settings import CatalogSettings, Settings
from catalog.contracts.rules import Rule, RuleKind
from catalog.factory import open_catalog
from catalog.tables import raw
from catalog.tables.definition import Column, TableDef, Zone
from catalog.writer import fit_to_schema, write
from transforms.engines import COLUMN, RULE, VALUE, Source, check, get_engine

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tests.conftest import S3Server

EVENTS = TableDef(
    zone=Zone.RAW,
    name="spark_events",
    doc="A raw table whose schema evolves between batches.",
    columns=(
        Column("event_id", StringType(), required=True),
        Column("amount", DecimalType(12, 2)),
        Column("happened_at", TimestamptzType()),
        Column("day", DateType()),
        Column("count", IntegerType()),
        # Written to Parquet under a sanitized name (`Contact_x20ID`): read by field id.
        Column("Contact ID", StringType()),
        *raw.INGEST_COLUMNS,
    ),
    partition_by=(("_ingested_at", "day"),),
)
# The second batch brings columns.
EVENTS_WITH_NOTE = replace(
    EVENTS,
    columns=(*EVENTS.columns, Column("note", StringType()), Column("e-mail.at", StringType())),
)


def _rows(batch: str, ids: list[str], ingested: list[datetime], note: bool) -> pa.Table:
    n = len(ids)
    columns: dict[str, object] = {
        "event_id": ids,
        "amount": pa.array([Decimal(f"{i}.05") if i % 3 else None for i in range(n)]),
        "happened_at": [datetime(2026, 1, 1, i, 30, 0, 123456, tzinfo=UTC) for i in range(n)],
        "day": [date(2026, 1, 1 + i) for i in range(n)],
        "count": pa.array([i if i % 2 else None for i in range(n)], pa.int32()),
        "Contact ID": [f"C-{i}" for i in range(n)],
        "_source": ["test.events"] * n,
        "_batch_id": [batch] * n,
        "_ingested_at": ingested,
        "_source_position": [str(i) for i in range(n)],
    }
    if note:
        columns["note"] = [f"note \u00a0{i}" for i in range(n)]
        columns["e-mail.at"] = [f"{i}@example.com" for i in range(n)]
    return pa.table(columns)


def _evolving_table(catalog: Catalog) -> Table:
    """Three batches: b1 over two days (two files), b2 with a new column, b3 after `count`
    was widened to a long."""
    day_1, day_2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    b1 = _rows("b1", ["e1", "e2", "e3"], [day_1, day_1, day_2], note=False)
    write(catalog, EVENTS, b1, batch_id="b1", run_id="r")
    b2 = _rows("b2", ["e4", "e5"], [day_2, day_2], note=True)
    write(catalog, EVENTS_WITH_NOTE, b2, batch_id="b2", run_id="r")
    table = catalog.load_table(EVENTS.identifier_name)
    with table.update_schema() as update:
        update.update_column("count", field_type=LongType())
    b3 = _rows("b3", ["e6"], [day_2], note=True).set_column(
        4, "count", pa.array([2**40], pa.int64())
    )
    write(catalog, EVENTS_WITH_NOTE, b3, batch_id="b3", run_id="r")
    return catalog.load_table(EVENTS.identifier_name)


def _loaded(source: Source) -> pa.Table:
    """What the Spark engine loads, and what pyiceberg reads, both as the table's schema."""
    engine = get_engine("spark")
    schema = source.table.schema()
    loaded = engine.to_arrow(engine.load(source))
    assert loaded.column_names == source.schema().names
    by_spark = fit_to_schema(loaded, schema, "by spark")
    by_pyiceberg = fit_to_schema(source.to_arrow(), schema, "by pyiceberg")
    assert by_spark.sort_by("event_id").to_pylist() == by_pyiceberg.sort_by("event_id").to_pylist()
    return by_spark


def test_loads_batches_of_an_evolving_table_as_pyiceberg_reads_them(
    spark: SparkSession, catalog: Catalog
) -> None:
    table = _evolving_table(catalog)
    snapshots = table.snapshots()
    current = table.metadata.current_snapshot_id
    assert len(list(table.scan().plan_files())) >= 4  # b1 in two partitions, b2, b3

    loaded = {
        name: _loaded(Source(table, current, batches)).num_rows
        for name, batches in {
            "all": None,
            "b1": frozenset({"b1"}),
            "b2 and b3": frozenset({"b2", "b3"}),
            "unknown batch": frozenset({"b9"}),
            "no batch": frozenset(),
        }.items()
    }
    # An older snapshot's rows, with the columns added since as nulls.
    first_snapshot = _loaded(Source(table, snapshots[0].snapshot_id))

    assert loaded == {"all": 6, "b1": 3, "b2 and b3": 3, "unknown batch": 0, "no batch": 0}
    assert first_snapshot["note"].null_count == 3
    assert first_snapshot["Contact ID"].null_count == 0
    assert first_snapshot.schema.field("count").type == pa.int64()


def test_an_empty_table_loads_as_no_rows_with_its_columns(
    spark: SparkSession, catalog: Catalog
) -> None:
    write(catalog, EVENTS, _rows("b1", [], [], note=False), batch_id="b1", run_id="r")
    table = catalog.load_table(EVENTS.identifier_name)

    loaded = _loaded(Source(table, table.metadata.current_snapshot_id))

    assert loaded.num_rows == 0


def test_checked_rows_split_as_the_polars_engine_splits_them(
    spark: SparkSession, catalog: Catalog
) -> None:
    table = _evolving_table(catalog)
    source = Source(table, table.metadata.current_snapshot_id)
    rules = (
        Rule(RuleKind.PRIMARY_KEY, "event_id"),
        Rule(RuleKind.NOT_NULL, "amount"),
        Rule(RuleKind.ACCEPTED_VALUES, "note", accepted=("note \u00a00",)),
    )
    columns = ["event_id", "_batch_id"]

    results = {}
    for name in ("polars", "spark"):
        engine = get_engine(name)
        checked = check(name, engine.load(source), rules)
        results[name] = (
            engine.to_arrow(engine.accepted(checked)).sort_by("event_id"),
            engine.to_arrow(engine.accepted(checked, passing=["not_null"])).num_rows,
            engine.violations(checked, columns).sort_by("event_id").to_pylist(),
            engine.counts(engine.accepted(checked), "_batch_id"),
        )

    by_polars, by_spark = results["polars"], results["spark"]
    assert by_spark[0].column_names == by_polars[0].column_names == source.schema().names
    assert by_spark[0].to_pylist() == by_polars[0].to_pylist()
    assert by_spark[1:] == by_polars[1:]
    assert [v[RULE] for v in by_spark[2]] == ["not_null", "not_null", "accepted_values", "not_null"]
    assert set(by_spark[2][0]) == {*columns, RULE, COLUMN, VALUE}


@pytest.mark.integration
def test_tables_on_object_storage_are_read_through_pyiceberg(
    spark: SparkSession, make_settings: Callable[..., Settings], s3_server: S3Server
) -> None:
    warehouse = f"{s3_server.unique_prefix()}/wh"
    settings = make_settings(
        catalog=CatalogSettings(warehouse=warehouse, s3=s3_server.s3_settings())
    )
    table = _evolving_table(open_catalog(settings))

    loaded = _loaded(Source(table, table.metadata.current_snapshot_id, frozenset({"b2", "b3"})))

    assert loaded.num_rows == 3
