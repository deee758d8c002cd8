"""The API's response models, for the OpenAPI schema.

Endpoints return the serving copy's stored JSON as it is (no per-request serialisation):
these models document its shape. The customer documents' fields are made from the marts'
contracts (`catalog/tables/curated.py`), with the same names and descriptions, so the
schema cannot drift from what the copy holds. In the documents, timestamps are ISO 8601
in UTC, money is an exact decimal string (`"720.82"`), and customer_360's ','-separated
id lists are arrays.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, create_model
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    TimestamptzType,
)

from api.serving_copy import LIST_COLUMNS, SERVED
from catalog.tables.definition import TableDef


def _python_type(column_name: str, iceberg: IcebergType) -> Any:
    if column_name in LIST_COLUMNS:
        return list[str]
    if isinstance(iceberg, IntegerType | LongType):
        return int
    if isinstance(iceberg, DoubleType):
        return float
    if isinstance(iceberg, BooleanType):
        return bool
    if isinstance(iceberg, TimestamptzType):
        return datetime
    if isinstance(iceberg, DateType):
        return date
    return str  # strings, and decimals written as exact strings


def _model(name: str, definition: TableDef, *, without: tuple[str, ...] = ()) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for column in definition.columns:
        if column.name in without:
            continue
        python = _python_type(column.name, column.type)
        doc = column.doc
        if isinstance(column.type, DecimalType):
            doc = f"{doc} (exact decimal, as a string)"
        if column.required or column.name in LIST_COLUMNS:
            fields[column.name] = (python, Field(description=doc))
        else:
            fields[column.name] = (python | None, Field(description=doc))
    return create_model(name, __doc__=definition.doc, **fields)


Customer360 = _model("Customer360", SERVED["customer_360"])
CustomerVersion = _model("CustomerVersion", SERVED["dim_customer"], without=("customer_key",))
TimelineOrder = _model("TimelineOrder", SERVED["fct_orders"], without=("customer_key",))
TimelineSession = _model("TimelineSession", SERVED["fct_sessions"], without=("customer_key",))
TimelineTicket = _model("TimelineTicket", SERVED["fct_support_tickets"], without=("customer_key",))


class CustomerMatches(BaseModel):
    """Every customer an identifier belongs to (a shared family email has several)."""

    customers: list[Customer360]  # type: ignore[valid-type]


class CustomerHistory(BaseModel):
    """A customer's SCD2 versions (curated.dim_customer), oldest first."""

    customer_key: int
    versions: list[CustomerVersion]  # type: ignore[valid-type]


class CustomerTimeline(BaseModel):
    """A customer's most recent orders, sessions and tickets, newest first (up to the
    copy's timeline limit of each)."""

    customer_key: int
    orders: list[TimelineOrder]  # type: ignore[valid-type]
    sessions: list[TimelineSession]  # type: ignore[valid-type]
    tickets: list[TimelineTicket]  # type: ignore[valid-type]


class TableSnapshot(BaseModel):
    """The curated snapshot a table was read at when the copy was built."""

    snapshot_id: int | None
    committed_at: datetime | None


class Health(BaseModel):
    """The serving copy in use and how fresh its data is."""

    status: str = Field(description="`ok`")
    serving_version: str = Field(description="The copy's build id (`X-Serving-Version`).")
    built_at: datetime = Field(description="When the copy was built (UTC).")
    customers: int = Field(description="Customer keys in the copy.")
    curated_snapshot_id: int | None = Field(
        description="The curated.customer_360 snapshot the copy was built from."
    )
    curated_committed_at: datetime | None = Field(
        description="When that snapshot was committed (UTC)."
    )
    snapshot_age_seconds: float | None = Field(
        description="Seconds since that snapshot was committed."
    )
    snapshots: dict[str, TableSnapshot] = Field(description="Every served table's snapshot.")


class ErrorDetail(BaseModel):
    """What went wrong, in one line."""

    detail: str
