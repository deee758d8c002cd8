"""Running a DuckDB twin and its Polars original on the same rows, and comparing their output."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from polars.testing import assert_frame_equal

from catalog.tables.definition import TableDef
from catalog.writer import fit_to_schema
from transforms.duckdb.engine import ENGINE

PolarsStage = Callable[[pl.LazyFrame, pl.LazyFrame], pl.LazyFrame]
DuckDBStage = Callable[[duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation], duckdb.DuckDBPyRelation]


def relation(frame: pl.LazyFrame | pl.DataFrame) -> duckdb.DuckDBPyRelation:
    """`frame`'s rows, in order, as a relation on the DuckDB engine's connection."""
    rows = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    return ENGINE.relation(rows.to_arrow())


def staged(table: pa.Table, definition: TableDef) -> pa.Table:
    """`table` as the staging writer stores it, sorted by the table's key."""
    fitted = fit_to_schema(table, definition.schema(), definition.name)
    return fitted.sort_by([(c, "ascending") for c in definition.identifier])


def assert_same_stage(
    polars_stage: PolarsStage,
    duckdb_stage: DuckDBStage,
    definition: TableDef,
    prior: pl.LazyFrame,
    raw: pl.LazyFrame,
) -> pa.Table:
    """Both twins give the same rows and values from `prior` and `raw`, in the same order;
    returns them."""
    expected = polars_stage(prior, raw).collect().to_arrow()
    actual = duckdb_stage(relation(prior), relation(raw)).to_arrow_table()

    assert actual.column_names == definition.column_names
    # The same order before sorting: both sort by a unique key.
    assert actual.column(0).to_pylist() == expected.column(0).to_pylist()
    expected, actual = staged(expected, definition), staged(actual, definition)
    assert actual.equals(expected), _difference(actual, expected)
    return actual


def _difference(actual: pa.Table, expected: pa.Table) -> str:
    """The rows that differ (as text: a year-0 date has no Python value)."""
    rows = zip(_texts(actual), _texts(expected), strict=True)
    return "\n".join(f"duckdb {a}\npolars {e}" for a, e in rows if a != e)


def _texts(table: pa.Table) -> list[str]:
    columns = [
        pc.cast(c, pa.string()) if not pa.types.is_string(c.type) else c for c in table.columns
    ]
    return [str(row) for row in zip(*(c.to_pylist() for c in columns), strict=True)]


def assert_same_frame(
    expected: pl.LazyFrame | pl.DataFrame,
    actual: duckdb.DuckDBPyRelation,
    *,
    sort_by: list[str] | None = None,
) -> pl.DataFrame:
    """The same columns, types (as Polars reads both) and rows, in the same order (or
    after sorting both by `sort_by`); returns them."""
    rows = expected.collect() if isinstance(expected, pl.LazyFrame) else expected
    converted = pl.from_arrow(actual.to_arrow_table())
    assert isinstance(converted, pl.DataFrame)
    if sort_by:
        rows, converted = rows.sort(sort_by), converted.sort(sort_by)
    assert_frame_equal(converted, rows)
    return converted
