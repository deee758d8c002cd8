"""Running a Polars staging function and its Spark twin on the same rows, and comparing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl
import pyarrow as pa

from catalog.tables.definition import TableDef
from catalog.writer import fit_to_schema
from transforms.engines import function, get_engine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

Frame: TypeAlias = pl.LazyFrame | pl.DataFrame | pa.Table


def arrow(frame: Frame) -> pa.Table:
    if isinstance(frame, pl.LazyFrame):
        return frame.collect().to_arrow()
    return frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame


def polars(frame: Frame) -> pl.LazyFrame:
    table = pl.from_arrow(arrow(frame))
    assert isinstance(table, pl.DataFrame)
    return table.lazy()


def to_spark(spark: SparkSession, frame: Frame) -> DataFrame:
    """`frame` in Spark, typed as the engine types what it loads (naive timestamps naive)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    table = arrow(frame)
    return spark.createDataFrame(table, from_arrow_schema(table.schema, prefer_timestamp_ntz=True))


def spark_arrow(frame: DataFrame) -> pa.Table:
    return get_engine("spark").to_arrow(frame)


def run_twins(
    spark: SparkSession, module: str, name: str, *frames: Frame, **options: Any
) -> tuple[pa.Table, pa.Table]:
    """`transforms.<engine>.<module>.<name>(*frames, **options)` in Polars, then in Spark."""
    by_polars = function("polars", module, name)(*map(polars, frames), **options)
    by_spark = function("spark", module, name)(*(to_spark(spark, f) for f in frames), **options)
    return arrow(by_polars), spark_arrow(by_spark)


def assert_same_rows(
    by_polars: pa.Table, by_spark: pa.Table, table: TableDef | None = None, key: str = ""
) -> None:
    """The same columns in the same order, and the same rows sorted by key (the table's
    identifier), with values compared after fitting both to `table`'s schema."""
    assert by_spark.column_names == by_polars.column_names
    assert _types(by_spark) == _types(by_polars)
    if table is not None:
        by_polars = fit_to_schema(by_polars, table.schema(), table.identifier_name)
        by_spark = fit_to_schema(by_spark, table.schema(), table.identifier_name)
        assert by_spark.schema == by_polars.schema
    keys = [(k, "ascending") for k in (table.identifier if table else (key,))]
    assert by_spark.sort_by(keys).to_pylist() == by_polars.sort_by(keys).to_pylist()


def _types(table: pa.Table) -> list[pa.DataType]:
    """The column types, with Polars' large strings taken as strings."""
    return [pa.string() if t == pa.large_string() else t for t in table.schema.types]
