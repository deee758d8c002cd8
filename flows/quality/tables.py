"""The lakehouse tables the measures read (a feed's staging and raw tables), read into Polars,
each opened at most once per `measure` call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import BooleanExpression, In
from pyiceberg.table import Table

from catalog.reader import row_count
from catalog.registry import ensure_table
from catalog.tables import raw
from catalog.tables.definition import TableDef
from flows.stage import STAGED, Staged

UTC_US = pl.Datetime("us", "UTC")
# Each feed's raw table, by the feed's name.
RAW_TABLES = {t.name: t for t in raw.TABLES}
WHOLE_ROWS = 250_000


def staged_for(feed: str) -> Staged | None:
    """The staging table built from `feed`, if staging builds one yet."""
    return next((s for s in STAGED.values() if s.feed == feed), None)


def frame(
    table: Table,
    *,
    row_filter: BooleanExpression | None = None,
    columns: Sequence[str] = (),
    snapshot_id: int | None = None,
) -> pl.DataFrame:
    """Rows of `table` (none before its first commit), optionally filtered and narrowed, as
    of `snapshot_id` (default: the current snapshot)."""
    scan = table.scan(
        row_filter=row_filter if row_filter is not None else "True",
        selected_fields=tuple(columns) or ("*",),
        snapshot_id=snapshot_id,
    )
    rows = pl.from_arrow(scan.to_arrow())
    assert isinstance(rows, pl.DataFrame)
    return rows


def current_id(table: Table) -> int | None:
    """The id of `table`'s current snapshot (None before its first commit)."""
    snapshot = table.current_snapshot()
    return None if snapshot is None else snapshot.snapshot_id


def isin(column: str, values: Sequence[str]) -> BooleanExpression:
    """`column IN values` as a pyiceberg row filter (whose stubs miss this signature)."""
    return In(column, list(values))  # type: ignore[call-arg, arg-type, misc]


@dataclass
class Lakehouse:
    """The lakehouse as one `measure` call reads it: each table opened once and read at most
    once, and the running measures the last recorded run left (`flows.quality.running`;
    none: every figure is computed from every row).

    A table of up to `WHOLE_ROWS` rows is read whole the first time any of its columns is
    asked for: for tables that small, a scan's fixed cost outweighs the columns it reads.
    """

    catalog: Catalog
    running: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    _tables: dict[str, Table] = field(default_factory=dict, init=False, repr=False)
    _read: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = field(
        default_factory=dict, init=False, repr=False
    )

    def table(self, definition: TableDef) -> Table:
        """The table `definition` declares (created if missing), as it was when first asked."""
        name = definition.identifier_name
        if name not in self._tables:
            self._tables[name] = ensure_table(self.catalog, definition)
        return self._tables[name]

    def rows(self, definition: TableDef) -> pl.DataFrame:
        """Every row of the table `definition` declares."""
        return self._frame(definition, ())

    def columns(self, definition: TableDef, columns: Sequence[str]) -> pl.DataFrame:
        """`columns` of every row of the table `definition` declares."""
        if row_count(self.table(definition)) <= WHOLE_ROWS:
            return self.rows(definition).select(columns)
        return self._frame(definition, tuple(columns))

    def prior(self, feed: str, metric: str) -> Mapping[str, Any] | None:
        """The running measure of `feed`'s `metric` the last recorded run left, if any."""
        return self.running.get((feed, metric))

    def _frame(self, definition: TableDef, columns: tuple[str, ...]) -> pl.DataFrame:
        key = (definition.identifier_name, columns)
        if key not in self._read:
            self._read[key] = frame(self.table(definition), columns=columns)
        return self._read[key]
