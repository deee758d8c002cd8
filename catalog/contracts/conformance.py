"""Contracts against the raw table definitions, so the two cannot drift apart silently."""

from __future__ import annotations

from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
)

from catalog.contracts.loader import feed_of
from catalog.contracts.model import ColumnType, Contract
from catalog.registry import TABLES
from catalog.tables import raw
from catalog.tables.definition import TableDef

# The Iceberg types a contract type may be stored as. FLOAT covers doubles too: the seed's
# FLOAT is "a floating-point number", and raw keeps the source's double.
STORED_AS: dict[ColumnType, tuple[type[IcebergType], ...]] = {
    ColumnType.STRING: (StringType,),
    ColumnType.BOOLEAN: (BooleanType,),
    ColumnType.INTEGER: (IntegerType,),
    ColumnType.LONG: (LongType, IntegerType),
    ColumnType.FLOAT: (FloatType, DoubleType),
    ColumnType.DOUBLE: (DoubleType,),
    ColumnType.DECIMAL: (DecimalType,),
    ColumnType.DATE: (DateType,),
    ColumnType.TIMESTAMP: (TimestamptzType, TimestampType),
}


def infers_data_columns(table: TableDef) -> bool:
    """Whether `table` declares only ingest columns, its data columns inferred per file.

    For such a file drop the contract is the only declaration of the data columns, so there
    is nothing in the table definition to compare them with.
    """
    return table.columns == raw.FILE_COLUMNS


def raw_table_of(contract: Contract) -> TableDef:
    """The raw table definition a contract describes.

    Raises:
        LookupError: no raw table is declared under the contract's feed name.
    """
    name = f"raw.{feed_of(contract)}"
    if name not in TABLES:
        raise LookupError(f"{contract.contract_id}: no raw table {name} in catalog/tables/raw.py")
    return TABLES[name]


def column_mismatches(contract: Contract, table: TableDef | None = None) -> list[str]:
    """Each way the contract's schema disagrees with its raw table definition, one line each.

    A contract column missing from the table, or declared there with a type the contract's
    type cannot be stored as, is a mismatch (text can hold any type: staging checks each
    value against the contract, `catalog.contracts.rules`). Empty when they agree.
    """
    table = table if table is not None else raw_table_of(contract)
    if infers_data_columns(table):
        return []
    declared = {c.name: c.type for c in table.columns}
    problems = []
    for name, kind in contract.columns.items():
        if name not in declared:
            problems.append(f"{contract.contract_id}: column {name} not in {table.identifier_name}")
        elif not isinstance(declared[name], (*STORED_AS[kind], StringType)):
            problems.append(
                f"{contract.contract_id}: column {name} is {kind} in the contract but "
                f"{declared[name]} in {table.identifier_name}"
            )
    return problems
