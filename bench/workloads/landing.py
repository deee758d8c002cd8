"""Landing throughput: `catalog.writer.write` into a fresh Iceberg table vs plain Parquet.

The same Arrow table (10 mixed-type columns, generated once from the seed) is written by:
- `pyarrow` (baseline): `pyarrow.parquet.write_table` to one file, zstd like the lakehouse's
  tables, so the ratio measures Iceberg's overhead rather than a codec difference;
- `iceberg`: `write` (append) into an unpartitioned table in a SQLite catalog;
- `iceberg_day`: the same into a table partitioned by day of `event_at`, over `DAYS` days.

Each run gets a fresh catalog and table, created before the clock starts; the timed part is
what a landing step pays: load the table, fit the frame, write the files, commit.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    TimestamptzType,
)

from bench.runner import Step, Variant, Workload, WorkloadContext
from c360.settings import CatalogSettings, ProfileName, Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables.definition import Column, TableDef, Zone
from catalog.writer import fit_to_schema, write

# Days of events in one landed batch: the partition count of `iceberg_day`.
DAYS = 30
START = datetime(2026, 1, 1, tzinfo=UTC)
EVENT_TYPES = ("view", "add_to_cart", "purchase", "refund", "support_call", "email_open")
CHANNELS = ("web", "app", "store", "call_center")

EVENTS = TableDef(
    zone=Zone.RAW,
    name="bench_landing_events",
    doc="A synthetic customer event, for timing landing only.",
    columns=(
        Column("event_id", LongType(), required=True),
        Column("customer_id", StringType(), required=True),
        Column("event_type", StringType(), required=True),
        Column("channel", StringType()),
        Column("quantity", IntegerType()),
        Column("amount", DoubleType()),
        Column("discount_rate", FloatType()),
        Column("is_refund", BooleanType()),
        Column("event_date", DateType()),
        Column("event_at", TimestamptzType(), required=True),
    ),
)
EVENTS_BY_DAY = dataclasses.replace(
    EVENTS, name="bench_landing_events_by_day", partition_by=(("event_at", "day"),)
)


def generate_events(rows: int, seed: int) -> pa.Table:
    """`rows` synthetic events, identical for the same seed, already fitted to `EVENTS`."""
    rng = np.random.default_rng(seed)
    customer_numbers = pa.array(rng.integers(0, max(rows // 10, 1), rows)).cast(pa.string())
    event_offsets_us = rng.integers(0, DAYS * 86_400 * 1_000_000, rows)
    event_at = pa.array(
        int(START.timestamp() * 1_000_000) + event_offsets_us, pa.timestamp("us", tz="UTC")
    )
    raw = pa.table(
        {
            "event_id": pa.array(np.arange(rows, dtype=np.int64)),
            "customer_id": pc.binary_join_element_wise(
                "cust-", pc.utf8_lpad(customer_numbers, 8, "0"), ""
            ),
            "event_type": pa.array(EVENT_TYPES).take(rng.integers(0, len(EVENT_TYPES), rows)),
            "channel": pa.array(CHANNELS).take(
                pa.array(rng.integers(0, len(CHANNELS), rows), mask=rng.random(rows) < 0.05)
            ),
            "quantity": pa.array(rng.integers(1, 10, rows, dtype=np.int32)),
            "amount": pa.array(np.round(rng.gamma(2.0, 30.0, rows), 2)),
            "discount_rate": pa.array(rng.random(rows, dtype=np.float32)),
            "is_refund": pa.array(rng.random(rows) < 0.03),
            "event_date": event_at.cast(pa.date32()),
            "event_at": event_at,
        }
    )
    return fit_to_schema(raw, EVENTS.schema(), EVENTS.identifier_name)


def variant_dir(workdir: Path, variant: str) -> Path:
    """Where a variant keeps its files (the last run's stay until the workdir goes)."""
    return workdir / variant


def open_local_catalog(root: Path) -> Catalog:
    """A SQLite catalog with a local warehouse under `root`, whatever the environment says."""
    root = root.resolve()
    settings = Settings(
        home=root,
        profile=ProfileName.LOCAL,
        catalog=CatalogSettings(
            type="sql", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse"
        ),
    )
    return open_catalog(settings)


def _variants(context: WorkloadContext) -> list[Variant]:
    data = generate_events(context.rows, context.seed)
    return [
        _parquet_variant("pyarrow", data, variant_dir(context.workdir, "pyarrow")),
        _iceberg_variant("iceberg", data, EVENTS, variant_dir(context.workdir, "iceberg")),
        _iceberg_variant(
            "iceberg_day", data, EVENTS_BY_DAY, variant_dir(context.workdir, "iceberg_day")
        ),
    ]


def _parquet_variant(name: str, data: pa.Table, root: Path) -> Variant:
    def prepare() -> Step:
        _empty(root)

        def step() -> int:
            pq.write_table(data, root / "events.parquet", compression="zstd")
            return data.num_rows

        return step

    return Variant(name, prepare)


def _iceberg_variant(name: str, data: pa.Table, definition: TableDef, root: Path) -> Variant:
    def prepare() -> Step:
        _empty(root)
        catalog = open_local_catalog(root)
        ensure_table(catalog, definition)

        def step() -> int:
            return write(catalog, definition, data, batch_id="bench", run_id="bench").rows

        return step

    return Variant(name, prepare)


def _empty(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)


WORKLOAD = Workload(
    name="landing",
    doc="catalog.writer.write into Iceberg vs pyarrow.parquet.write_table, same Arrow data",
    baseline="pyarrow",
    default_rows=1_000_000,
    variants=_variants,
)
