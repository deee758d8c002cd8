"""The staging engines behind `--engine polars|duckdb|spark`, one interface for all three."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, In
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from catalog.contracts.rules import Rule
from catalog.reader import read_files

EngineName = Literal["polars", "duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("polars", "duckdb", "spark")

# The columns `contracts.check` adds: the rule a row broke first, its column and the value.
RULE, COLUMN, VALUE = "_rule", "_column", "_value"


class EngineUnavailableError(RuntimeError):
    """The engine's library (or its runtime, e.g. Java for Spark) is not installed."""


@dataclass(frozen=True)
class Source:
    """Rows of one Iceberg table at one snapshot, optionally only some ingest batches.

    `files`, when given, are the data files known to hold every one of those rows (the files
    the commits of a chain of appends added, `catalog.reader.added_files`), so nothing is
    planned: planning opens every manifest the table has. Engines that read Parquet
    themselves (Spark) take `data_files()`; the others take `to_arrow()`.
    """

    table: Table
    snapshot_id: int | None
    batch_ids: frozenset[str] | None = None
    files: tuple[DataFile, ...] | None = None

    @property
    def row_filter(self) -> BooleanExpression:
        if self.batch_ids is None:
            return AlwaysTrue()
        # pyiceberg's expressions are pydantic models whose generated signature mypy misreads.
        return In("_batch_id", self.batch_ids)  # type: ignore[call-arg, arg-type, misc]

    @property
    def empty(self) -> bool:
        return self.snapshot_id is None or self.batch_ids == frozenset()

    def schema(self) -> pa.Schema:
        return self.table.schema().as_arrow()

    def to_arrow(self, columns: Sequence[str] = ()) -> pa.Table:
        """The rows, optionally only `columns`."""
        if self.empty:
            schema = self.table.schema()
            return (schema.select(*columns) if columns else schema).as_arrow().empty_table()
        if self.files is not None:
            return read_files(self.table, self.files, columns=columns, row_filter=self.row_filter)
        scan = self.table.scan(
            row_filter=self.row_filter,
            snapshot_id=self.snapshot_id,
            selected_fields=tuple(columns) or ("*",),
        )
        return scan.to_arrow()

    def data_files(self) -> list[str]:
        """The Parquet files holding the rows (may hold other rows too: filter by batch).

        Raises:
            ValueError: the table has delete files, which reading Parquet directly ignores.
        """
        if self.empty:
            return []
        if self.files is not None:
            return [f.file_path for f in self.files]
        scan = self.table.scan(row_filter=self.row_filter, snapshot_id=self.snapshot_id)
        tasks = list(scan.plan_files())
        if any(t.delete_files for t in tasks):
            raise ValueError(f"{self.table.name()}: has delete files; read it through pyiceberg")
        return [t.file.file_path for t in tasks]


class Engine(Protocol):
    """What the stage flow needs from an engine; frames are the engine's own type."""

    name: EngineName

    def load(self, source: Source) -> Any:
        """The source's rows as a frame (lazily where the engine can)."""

    def scan(self, source: Source) -> Any:
        """A staging table's prior state as a frame: like `load`, but an engine that can read
        only the columns a transform uses does (the prior state dwarfs the new rows)."""

    def accepted(self, checked: Any, passing: Collection[str] = ()) -> Any:
        """Rows `contracts.check` passed (or failed only rules named in `passing`, which a
        contract that alerts instead of quarantining lets through), without its columns."""

    def counts(self, frame: Any, column: str) -> dict[str, int]:
        """Rows per value of `column` (a text column without nulls, e.g. `_batch_id`)."""

    def violations(self, checked: Any, columns: Collection[str]) -> pa.Table:
        """Rows `contracts.check` failed: `columns`, then `_rule`, `_column`, `_value`."""

    def to_arrow(self, frame: Any) -> pa.Table:
        """Compute `frame` and return it as an Arrow table."""


def get_engine(name: EngineName) -> Engine:
    """The engine called `name`.

    Raises:
        EngineUnavailableError: its library is missing (one line saying how to install it).
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    module = importlib.import_module(f"transforms.{name}.engine")
    engine: Engine = module.ENGINE
    return engine


def function(engine: EngineName, module: str, name: str) -> Callable[..., Any]:
    """`transforms.<engine>.<module>.<name>`: the engine's twin of a staging function."""
    return getattr(importlib.import_module(f"transforms.{engine}.{module}"), name)


def check(engine: EngineName, frame: Any, rules: tuple[Rule, ...]) -> Any:
    """The engine's `contracts.check`."""
    return function(engine, "contracts", "check")(frame, rules)
