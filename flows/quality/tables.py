"""The lakehouse tables the measures read (a feed's staging table), read into Polars."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from pyiceberg.expressions import BooleanExpression, In
from pyiceberg.table import Table

from flows.stage import STAGED, Staged

UTC_US = pl.Datetime("us", "UTC")


def staged_for(feed: str) -> Staged | None:
    """The staging table built from `feed`, if staging builds one yet."""
    return next((s for s in STAGED.values() if s.feed == feed), None)


def frame(
    table: Table, *, row_filter: BooleanExpression | None = None, columns: Sequence[str] = ()
) -> pl.DataFrame:
    """Rows of `table` (none before its first commit), optionally filtered and narrowed."""
    scan = table.scan(
        row_filter=row_filter if row_filter is not None else "True",
        selected_fields=tuple(columns) or ("*",),
    )
    rows = pl.from_arrow(scan.to_arrow())
    assert isinstance(rows, pl.DataFrame)
    return rows


def isin(column: str, values: Sequence[str]) -> BooleanExpression:
    """`column IN values` as a pyiceberg row filter (whose stubs miss this signature)."""
    return In(column, list(values))  # type: ignore[call-arg, arg-type, misc]
