"""The DuckDB engine: Arrow in, relations through the transforms, Arrow out."""

from __future__ import annotations

import threading
from collections.abc import Collection

import duckdb
import pyarrow as pa

from transforms.duckdb.sql import literal, names, quoted
from transforms.engines import COLUMN, RULE, VALUE, EngineName, Source


class DuckDBEngine:
    """Relations live on one in-memory connection per thread: a transform combines only
    relations of one connection, and a connection must not serve two threads at once."""

    name: EngineName = "duckdb"

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection, its session time zone UTC (timestamps come back UTC)."""
        connection: duckdb.DuckDBPyConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = duckdb.connect()
            connection.execute("SET TimeZone = 'UTC'")
            self._local.connection = connection
        return connection

    def relation(self, table: pa.Table) -> duckdb.DuckDBPyRelation:
        """`table`'s rows as a relation on this thread's connection."""
        return self.connection.from_arrow(table)

    def load(self, source: Source) -> duckdb.DuckDBPyRelation:
        return self.relation(source.to_arrow())

    scan = load

    def accepted(
        self, checked: duckdb.DuckDBPyRelation, passing: Collection[str] = ()
    ) -> duckdb.DuckDBPyRelation:
        passed = f"{RULE} IS NULL"
        if passing:
            passed += f" OR {RULE} IN ({', '.join(literal(r) for r in sorted(passing))})"
        return checked.filter(passed).project(f"* EXCLUDE ({names([RULE, COLUMN, VALUE])})")

    def counts(self, frame: duckdb.DuckDBPyRelation, column: str) -> dict[str, int]:
        return dict(frame.aggregate(f"{quoted(column)}, count(*)", quoted(column)).fetchall())

    def violations(self, checked: duckdb.DuckDBPyRelation, columns: Collection[str]) -> pa.Table:
        rows = checked.filter(f"{RULE} IS NOT NULL")
        return rows.project(names([*columns, RULE, COLUMN, VALUE])).to_arrow_table()

    def to_arrow(self, frame: duckdb.DuckDBPyRelation) -> pa.Table:
        return frame.to_arrow_table()


ENGINE = DuckDBEngine()
