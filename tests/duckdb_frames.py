"""DuckDB results as Polars frames comparable with the lakehouse's."""

from __future__ import annotations

import duckdb
import polars as pl
import polars.selectors as cs


def utc_frame(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """The relation's rows, time zones spelled `UTC` as pyiceberg's are (DuckDB names the
    session's zone, e.g. `Etc/UTC`, for the same instants)."""
    return relation.pl().with_columns(cs.datetime(time_zone="*").dt.convert_time_zone("UTC"))
