"""`stage_crm_customers` in Spark stages what Polars stages, from an empty or a prior state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from catalog.tables import staging
from simulator.noise import PHONE_STYLES
from tests.transforms.frames import empty
from tests.transforms.polars.test_crm_customers import RAW_SCHEMA, _at, _version
from tests.transforms.spark.twins import assert_same_rows, run_twins
from transforms.engines import function

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

VERSIONS = [
    _version("C2", updated=_at(1), ingested=_at(2), phone="(555) 987-6543"),
    _version("C1", updated=_at(1), ingested=_at(2), email=" ADA@Example.com", value=1.0),
    _version(
        "C1",
        updated=_at(3),
        ingested=_at(4),
        operation="update",
        email=" Ada.L@Example.COM ",
        phone="+1 555 123 4567",
        first_name="  Ada  Augusta ",
        street=" 7   Elm  Rd ",
        city="  North Andover ",
        value=2.5,
    ),
    # Deleted; deleted without a source timestamp; deleted and back; a delete of an unknown key.
    _version("C3", updated=_at(1), ingested=_at(2)),
    _version("C3", updated=_at(5), ingested=_at(6), operation="delete"),
    _version("C4", updated=_at(1), ingested=_at(2)),
    _version("C4", updated=None, ingested=_at(6), operation="delete"),
    _version("C5", updated=_at(1), ingested=_at(2)),
    _version("C5", updated=None, ingested=_at(4), operation="delete"),
    _version("C5", updated=_at(5), ingested=_at(6), first_name="Back"),
    _version("C6", updated=None, ingested=_at(4), operation="delete"),
    # A late commit under a skewed clock, and a tie on the source timestamp, listed last first.
    _version("C7", updated=_at(3), ingested=_at(4), email="first@example.com"),
    _version("C7", updated=_at(2), ingested=_at(6), email="late@example.com"),
    _version("C8", updated=_at(3), ingested=_at(6), email="second@example.com"),
    _version("C8", updated=_at(3), ingested=_at(4), email="first@example.com"),
    # Contacts typed every way.
    _version("C9", updated=_at(1), ingested=_at(2), email="  ", phone="unknown"),
    _version("C10", updated=_at(1), ingested=_at(2), email=None, phone=None),
    _version(
        "C11",
        updated=_at(1),
        ingested=_at(2),
        email="\tZOË.O'Brien@EXAMPLE.COM\u00a0",
        phone="555\u00a0123\u00a04567",
        first_name="\u00a0Zoë\t\tAnn\u00a0",
        street="1\u2028Main St ",
        city="\x0bSalem\x0b",
    ),
    _version("C12", updated=_at(5), ingested=_at(6), email="İNCE@EXAMPLE.TR", phone="1 555 1234"),
    *(
        _version(
            f"P{i}",
            updated=_at(1),
            ingested=_at(2 + 2 * (i % 3)),
            phone=style.format(a="555", b="123", c="4567"),
        )
        for i, style in enumerate(PHONE_STYLES)
    ),
]


@pytest.mark.parametrize("prior_until_day", [None, 5], ids=["empty prior", "prior until day 5"])
def test_stages_what_polars_stages(spark: SparkSession, prior_until_day: int | None) -> None:
    versions = pl.LazyFrame(VERSIONS, schema=RAW_SCHEMA)
    prior = empty(staging.CRM_CUSTOMERS)
    raw = versions
    if prior_until_day is not None:
        captured = pl.col("_ingested_at") < _at(prior_until_day)
        stage = function("polars", "crm_customers", "stage_crm_customers")
        prior = stage(prior, versions.filter(captured))
        raw = versions.filter(~captured)

    by_polars, by_spark = run_twins(spark, "crm_customers", "stage_crm_customers", prior, raw)

    assert by_spark.column_names == staging.CRM_CUSTOMERS.column_names
    assert_same_rows(by_polars, by_spark, staging.CRM_CUSTOMERS)
    assert by_spark.num_rows == 14
