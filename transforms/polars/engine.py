"""The Polars engine: Arrow in, lazy frames through the transforms, Arrow out."""

from __future__ import annotations

import os
from collections.abc import Collection

import polars as pl
import pyarrow as pa

from transforms.engines import COLUMN, RULE, VALUE, EngineName, Source

# Polars plans Iceberg scans with pyiceberg unless the optional `polars_iceberg` package is
# installed, and warns on every scan that it is not: pyiceberg's planning is what we want.
os.environ.setdefault("POLARS_ICEBERG_PLANNER", "pyiceberg")


class PolarsEngine:
    name: EngineName = "polars"

    def load(self, source: Source) -> pl.LazyFrame:
        return _frame(source.to_arrow()).lazy()

    def scan(self, source: Source) -> pl.LazyFrame:
        """A whole snapshot, read lazily: only the columns and rows the transform uses (the
        prior state of an event table: millions of rows, of which it needs the keys).
        Polars reads local Parquet files itself; object storage goes through pyiceberg,
        which has the catalog's credentials."""
        if source.empty or source.batch_ids is not None:
            return self.load(source)
        local = source.table.metadata_location.startswith(("file:", "/"))
        return pl.scan_iceberg(
            source.table,
            snapshot_id=source.snapshot_id,
            reader_override=None if local else "pyiceberg",
        )

    def accepted(self, checked: pl.LazyFrame, passing: Collection[str] = ()) -> pl.LazyFrame:
        passed = pl.col(RULE).is_null() | pl.col(RULE).is_in(list(passing))
        return checked.filter(passed).drop(RULE, COLUMN, VALUE)

    def counts(self, frame: pl.LazyFrame, column: str) -> dict[str, int]:
        grouped = frame.group_by(column).len().collect()
        return dict(zip(grouped[column].to_list(), grouped["len"].to_list(), strict=True))

    def violations(self, checked: pl.LazyFrame, columns: Collection[str]) -> pa.Table:
        rows = checked.filter(pl.col(RULE).is_not_null()).select(*columns, RULE, COLUMN, VALUE)
        return rows.collect().to_arrow()

    def to_arrow(self, frame: pl.LazyFrame) -> pa.Table:
        return frame.collect().to_arrow()


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


ENGINE = PolarsEngine()
