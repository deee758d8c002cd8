"""Reading and changing a simulated CRM source, for the tests."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.tables.definition import TableDef
from simulator.clock import day_start
from simulator.emitters.database import connect, read_rows
from simulator.sources import crm

UPDATED = ["C00000002", "C00000010", "C00000100"]
INSERTED = ["C90000001", "C90000002"]
# Later than anything day 0 emitted: the next capture must see these.
CHANGED_AT = day_start(1).replace(tzinfo=None)


def crm_url(settings: Settings) -> str:
    url = settings.resolved_sources().crm_url
    assert url
    return url


def crm_rows(settings: Settings) -> pl.DataFrame:
    """The CRM's current rows as its database holds them (naive timestamps)."""
    engine = connect(crm_url(settings))
    try:
        return read_rows(engine, crm.CUSTOMERS)
    finally:
        engine.dispose()


def source_rows(settings: Settings) -> pl.DataFrame:
    """The CRM's current rows as the lakehouse should hold them: UTC timestamps."""
    return crm_rows(settings).with_columns(pl.col("updated_at").dt.replace_time_zone("UTC"))


def table_rows(catalog: Catalog, table: TableDef) -> pl.DataFrame:
    """Every row of a lakehouse table, read through pyiceberg."""
    frame = pl.from_arrow(catalog.load_table(table.identifier_name).scan().to_arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def change_crm(settings: Settings) -> None:
    """Update `UPDATED` (new email and value, bumped updated_at) and insert `INSERTED`.

    The new rows carry the CRM's messy typing, so staging has something to clean.
    """
    table = crm.CUSTOMERS
    engine = connect(crm_url(settings))
    with engine.begin() as conn:
        for i, customer_id in enumerate(UPDATED):
            conn.execute(
                table.update()
                .where(table.c.customer_id == customer_id)
                .values(
                    email=f" Moved{i}@Example.com",
                    lifetime_value=1000.0 + i,
                    updated_at=CHANGED_AT + timedelta(microseconds=i + 1),
                )
            )
        conn.execute(
            table.insert(),
            [
                {
                    "customer_id": customer_id,
                    "first_name": " New ",
                    "last_name": f"Customer  {i}",
                    "email": f"new{i}@example.com",
                    "phone": f"(555) 010-000{i}",
                    "street": f" {i + 1}  Elm  St ",
                    "city": "Salem",
                    "state": "MA",
                    "postcode": "01970",
                    "country": "US",
                    "signup_date": date(2026, 1, 2),
                    "lifetime_value": 0.0,
                    "is_active": True,
                    "updated_at": CHANGED_AT + timedelta(hours=1, microseconds=i),
                }
                for i, customer_id in enumerate(INSERTED)
            ],
        )
    engine.dispose()


def write_customer_contract_v2(contracts_dir: Path) -> None:
    """Add to `contracts_dir` (a copy of the contracts) version 2 of the CRM's contract:
    version 1 and the `loyalty_tier` column the tests' drift adds."""
    seed = (contracts_dir / "customer360_customer_v1.json").read_text()
    v2 = (
        seed.replace("customer360_customer_v1", "customer360_customer_v2")
        .replace('"is_active": "BOOLEAN"', '"is_active": "BOOLEAN",\n    "loyalty_tier": "STRING"')
        .replace(
            '"snowflake.customer_dim"',
            '"snowflake.customer_dim",\n    "raw_table": "raw.crm_customers"',
        )
    )
    (contracts_dir / "customer360_customer_v2.json").write_text(v2)
