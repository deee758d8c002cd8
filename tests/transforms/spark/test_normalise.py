"""The Spark normalisers give what the Polars ones give, value for value."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import polars as pl

from simulator.noise import PHONE_STYLES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TYPED = [
    *(style.format(a="555", b="123", c="4567") for style in PHONE_STYLES),
    "5551234567",
    "15551234567",
    "+1 (555) 123-4567",
    "  555 123 4567  ",
    "555\u00a0123\u00a04567",
    "(555)\t123-4567\n",
    "2079460958",
    "442079460958",
    "+44 20 7946 0958 1",
    "25551234567",
    "555-1234",
    "n/a",
    "\u0665\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667",  # Arabic-Indic digits
    "ada@example.com",
    " ADA.Lovelace@Example.COM",
    "ada@example.com \t",
    "\tZOË@EXAMPLE.COM\u00a0",
    "İSTANBUL@EXAMPLE.TR",
    "ΟΔΥΣΣΕΥΣ@EXAMPLE.GR",
    "",
    "   ",
    "\u00a0",
    None,
    "Ada",
    "  Ada ",
    "Mary   Ann",
    "Mary\t Ann",
    "Mary\u00a0\u00a0Ann",
    "\r\nMary \f Ann\r\n",
    "\x0bAda\x0b",
    # White space outside the normalisers' set stays: Java's `\v` would take these.
    "\u2028Ada\u2028",
    "Ada \u0085",
    "Ada\u0085",
    "\u3000Ada\u3000",
    "Ada\u200b",
]


def test_every_normaliser_agrees_with_polars_on_tricky_values(spark: SparkSession) -> None:
    def applied(engine: str) -> list[tuple[str | None, ...]]:
        module = importlib.import_module(f"transforms.{engine}.normalise")
        expressions = [
            module.trimmed("v").alias("trimmed"),
            module.email("v").alias("email"),
            module.phone_e164("v").alias("phone"),
            module.phone_e164("v", country_code="44").alias("phone_44"),
            module.name("v").alias("name"),
        ]
        frame = pl.DataFrame({"v": TYPED}, schema={"v": pl.String})
        if engine == "polars":
            return frame.select(expressions).rows()
        rows = spark.createDataFrame(frame.to_arrow()).select(expressions).collect()
        return [tuple(row) for row in rows]

    assert applied("spark") == applied("polars")
