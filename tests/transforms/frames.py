"""Frames shaped like lakehouse tables, for transform tests."""

import polars as pl

from catalog.tables.definition import TableDef


def empty(definition: TableDef) -> pl.LazyFrame:
    """No rows, with the table's columns and types: a staging table before its first run."""
    frame = pl.from_arrow(definition.schema().as_arrow().empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.lazy()
