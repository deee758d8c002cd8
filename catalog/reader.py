"""Reading a declared lakehouse table into Polars, as the pipeline's own bookkeeping does."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import BooleanExpression, EqualTo

from catalog.registry import ensure_table
from catalog.tables.definition import TableDef


def read_rows(
    catalog: Catalog,
    definition: TableDef,
    row_filter: str | BooleanExpression = "True",
    columns: Sequence[str] = (),
) -> pl.DataFrame:
    """Rows of the table (created if missing; none before its first commit, with its
    columns), optionally filtered (pyiceberg's filter syntax) and narrowed to `columns`."""
    scan = ensure_table(catalog, definition).scan(
        row_filter=row_filter, selected_fields=tuple(columns) or ("*",)
    )
    frame = pl.from_arrow(scan.to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def equals(column: str, value: str) -> BooleanExpression:
    """`column = value` as a pyiceberg row filter, the value bound as a literal (never
    spliced into filter text); pyiceberg's stubs miss this signature."""
    return EqualTo(column, value)  # type: ignore[call-arg, arg-type, misc]
