"""Curated zone: the dbt marts, published as Iceberg tables.

The marts' enforced dbt contracts (`dbt/models/marts/*.yml`) are the one definition of
these tables: each contracted mart becomes a curated table with the contract's columns,
types and descriptions; its `primary_key` constraint is the identifier.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestamptzType,
)

from catalog.tables.definition import Column, TableDef, Zone

MARTS_DIR = Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts"

# Contract data types (written so both DuckDB and Snowflake accept them) -> Iceberg types.
TYPES: dict[str, IcebergType] = {
    "varchar": StringType(),
    "bigint": LongType(),
    "integer": IntegerType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "date": DateType(),
    "timestamp with time zone": TimestamptzType(),
    "timestamptz": TimestamptzType(),
}
DECIMAL = re.compile(r"(?:decimal|numeric)\((\d+),\s*(\d+)\)")


class ContractError(ValueError):
    """A mart's contract cannot be published: the message names the model and column."""


def iceberg_type(model: str, column: str, data_type: str) -> IcebergType:
    """The Iceberg type for a contract's `data_type`.

    Raises:
        ContractError: the data type has no mapping.
    """
    normalised = " ".join(data_type.lower().split())
    if match := DECIMAL.fullmatch(normalised):
        return DecimalType(int(match[1]), int(match[2]))
    if normalised not in TYPES:
        raise ContractError(
            f"{model}.{column}: data_type {data_type!r} has no Iceberg type; "
            f"use one of {', '.join(TYPES)} or decimal(p,s)"
        )
    return TYPES[normalised]


def table_from_contract(model: dict[str, Any]) -> TableDef:
    """The curated table a contracted dbt model (one `models:` entry) is published as.

    Raises:
        ContractError: a column's type has no Iceberg type, or no column is the key.
    """
    name = model["name"]
    columns = model["columns"]
    identifier = tuple(
        c["name"]
        for c in columns
        if any(k.get("type") == "primary_key" for k in c.get("constraints", []))
    )
    if not identifier:
        raise ContractError(f"{name}: the contract names no primary_key column")
    return TableDef(
        zone=Zone.CURATED,
        name=name,
        doc=" ".join(model.get("description", "").split()),
        columns=tuple(
            Column(
                c["name"],
                iceberg_type(name, c["name"], c["data_type"]),
                required=c["name"] in identifier,
                doc=" ".join(c.get("description", "").split()),
            )
            for c in columns
        ),
        identifier=identifier,
    )


def contracted_marts(marts_dir: Path = MARTS_DIR) -> tuple[TableDef, ...]:
    """Every mart in `marts_dir` whose contract is enforced, in name order."""
    models = [
        model
        for path in sorted(marts_dir.glob("*.yml"))
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", [])
        if model.get("config", {}).get("contract", {}).get("enforced")
    ]
    return tuple(table_from_contract(m) for m in sorted(models, key=lambda m: m["name"]))


TABLES = contracted_marts()
