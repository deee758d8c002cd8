"""How a lakehouse table is declared: columns, partitioning and identifier fields, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform, Transform
from pyiceberg.types import IcebergType, NestedField


class Zone(StrEnum):
    """The lakehouse's namespaces, in the order data flows through them."""

    RAW = "raw"
    STAGING = "staging"
    CURATED = "curated"
    OPS = "ops"


TRANSFORMS: dict[str, Transform] = {
    "identity": IdentityTransform(),
    "day": DayTransform(),
    "month": MonthTransform(),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: IcebergType
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class TableDef:
    """One table: where it lives, what it holds and how it is laid out.

    Args:
        zone: the namespace.
        name: the table name inside the namespace.
        columns: the columns in order; field ids are assigned from their position.
        doc: one line saying what a row is.
        partition_by: `(column, transform)` pairs, transform one of `TRANSFORMS`.
        identifier: the columns that identify a row (Iceberg identifier fields).
    """

    zone: Zone
    name: str
    columns: tuple[Column, ...]
    doc: str
    partition_by: tuple[tuple[str, str], ...] = ()
    identifier: tuple[str, ...] = field(default=())

    @property
    def identifier_name(self) -> str:
        return f"{self.zone.value}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def schema(self) -> Schema:
        fields = [
            NestedField(i, c.name, c.type, required=c.required, doc=c.doc or None)
            for i, c in enumerate(self.columns, start=1)
        ]
        schema = Schema(*fields)
        ids = [schema.find_field(name).field_id for name in self.identifier]
        return Schema(*fields, identifier_field_ids=ids)

    def partition_spec(self) -> PartitionSpec:
        schema = self.schema()
        return PartitionSpec(
            *(
                PartitionField(
                    source_id=schema.find_field(column).field_id,
                    field_id=1000 + i,
                    transform=TRANSFORMS[transform],
                    name=f"{column}_{transform}",
                )
                for i, (column, transform) in enumerate(self.partition_by)
            )
        )
