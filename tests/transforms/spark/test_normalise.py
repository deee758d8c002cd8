"""The Spark normalisers give what the Polars ones give, value for value."""

from __future__ import annotations

import importlib
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from simulator.noise import DATE_STYLES, PHONE_STYLES
from transforms.polars.normalise import COUNTRIES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PHONES = [
    *(style.format(a="555", b="123", c="4567") for style in PHONE_STYLES),
    "5551234567",
    "15551234567",
    "+1 (555) 123-4567",
    "  555 123 4567  ",
    "555\u00a0123\u00a04567",
    "(555)\t123-4567\n",
    "+1-511-685-5646",
    "555-123-4567 x89",
    "2079460958",
    "442079460958",
    "+44 20 7946 0958 1",
    "25551234567",
    "555-1234",
    "n/a",
    "\u0665\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667",  # Arabic-Indic digits
]
EMAILS = [
    "ada@example.com",
    " ADA.Lovelace@Example.COM",
    "ada@example.com \t",
    "\tZOË@EXAMPLE.COM\u00a0",
    "\tSHERYL.LI3@OUTLOOK.COM\r\n",
    "İSTANBUL@EXAMPLE.TR",
    "ΟΔΥΣΣΕΥΣ@EXAMPLE.GR",
]
BLANKS = ["", "   ", "\u00a0", "\u00a0 \t", None]
NAMES = [
    "Ada",
    "  Ada ",
    "Mary   Ann",
    "Mary\t Ann",
    "Mary\u00a0\u00a0Ann",
    "\r\nMary \f Ann\r\n",
    "\x0bAda\x0b",
    # White space outside the normalisers' set stays: Java's `\v` and `$` would take these.
    "\u2028Ada\u2028",
    "Ada \u0085",
    "Ada\u0085",
    "\u3000Ada\u3000",
    "Ada\u200b",
    # Shouted or not, split or not.
    "OBRIEN",
    "O'BRIEN",
    "MARY-JANE",
    "  JOSÉ   ÁLVAREZ ",
    "McBride",
    "van der Berg",
    "d'Arcy",
    "3RD STREET",
    "STRASSE ß",
    "ǄEMAL ǅ",
    "ΟΔΥΣΣΕΥΣ ΣΑΣ",
    "İSTANBUL",
    "ÅSA-ÖRN",
    "X\u0301Y",
    "ﬁNN",
    "O'Brien, Mary-Jane",
    "OBRIEN, KARREN",
    "  Lee ,\u00a0Ada  ",
    "Lee,Ada",
    "Mary Ann\t Lee",
    "Smith,",
    ", Ada",
    " , ",
    "A\u2028B, C\u0085D",
]
DATES = [
    *(d.strftime(s) for s in DATE_STYLES for d in (date(2024, 11, 20), date(2005, 9, 5))),
    "2024/1/5",
    "1/5/2024",
    "5.1.2024",
    "nov. 20, 2024",
    "November 20 2024",
    "Sept 3 2024",
    "20 Nov 2024",
    "\u00a0 11/20/2024\t",
    "Nov\u00a0\u00a020  2024",
    "02/30/2024",
    "2024-02-29",
    "2023-02-29",
    "0000-01-01",
    "13/01/2024",
    "11/20/24",
    "20241120",
    "Smarch 3 2024",
    "2024-10-19T10:00:00Z",
    "2024-10-19\n",
    "\u0662\u0660\u0662\u0664-\u0661\u0660-\u0661\u0669",
]
TIMESTAMPS = [
    "2026-01-01T00:54:54Z",
    "2026-01-01 00:54:54Z",
    "2026-01-01t00:54:54z",
    "2026-01-01T00:54",
    "2026-01-01T00:54:54.5Z",
    "2026-01-01T00:54:54.1234567Z",
    "2026-01-01T01:54:54+01:00",
    "2025-12-31T19:54:54-0500",
    " 2026-01-01T00:54:54Z\u00a0",
    "2026-01-01T10:00:60Z",  # a leap second: the next minute, as chrono reads it
    "2026-12-31T23:59:60.5+00:00",
    "2026-01-01T10:00:00+19:00",  # beyond Java's offsets, within chrono's
    "2026-01-01T10:00:00-23:59",
    "2026-01-01T10:00:00+24:00",
    "2026-01-01T10:00:00+01:75",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999-01:00",
    "2026-01-01T25:00:00Z",
    "2026-01-01T10:60:00Z",
    "2026-01-01T10:00:61Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:54:54Z\n",
    "yesterday",
]
ANSWERS = ["Yes", "No", "Y", "n", "true", "FALSE", "1", "0", " yes\u00a0", "maybe", "T", "f"]
NUMBERS = ["2296", "1,234", "1,234,567", " 72\t", "+12", "-3", "2,8380", "1,23", "12.5", "1 234"]
NUMBERS += ["99999999999999999999", "9223372036854775807", "-9223372036854775808", "+-1", "007"]
COUNTRIES_TYPED = ["U.S.", "U.S.A.", " usa\u00a0", "Great\t Britain", "México", "Narnia", "ß"]
COUNTRIES_TYPED += [name.title() for name in COUNTRIES] + sorted(set(COUNTRIES.values()))
VALUES = [
    *PHONES,
    *EMAILS,
    *BLANKS,
    *NAMES,
    *DATES,
    *TIMESTAMPS,
    *ANSWERS,
    *NUMBERS,
    *COUNTRIES_TYPED,
]


def _applied(spark: SparkSession, engine: str, values: list[str | None]) -> list[dict[str, Any]]:
    """Every normaliser applied to `values` by `engine`'s module, as rows."""
    module = importlib.import_module(f"transforms.{engine}.normalise")
    first, last = module.split_last_first("v", first="first", last="last")
    expressions = [
        module.trimmed("v").alias("trimmed"),
        module.email("v").alias("email"),
        module.phone_e164("v").alias("phone"),
        module.phone_e164("v", country_code="44").alias("phone_44"),
        module.name("v").alias("name"),
        module.proper_name("v").alias("proper_name"),
        first,
        last,
        module.date_any("v").alias("date"),
        module.timestamp_utc("v").alias("timestamp"),
        module.boolean_any("v").alias("answer"),
        module.whole_number("v").alias("number"),
        module.country_code("v").alias("country"),
    ]
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    if engine == "polars":
        table = frame.select(expressions).to_arrow()
    else:
        table = spark.createDataFrame(frame.to_arrow()).select(expressions).toArrow()
    # Years Python cannot hold (0000, 10000) compare as time since 1970.
    table = table.set_column(8, "date", table["date"].cast(pa.int32()))
    table = table.set_column(9, "timestamp", table["timestamp"].cast(pa.int64()))
    return table.to_pylist()


def test_every_normaliser_agrees_with_polars_on_tricky_values(spark: SparkSession) -> None:
    by_spark = _applied(spark, "spark", VALUES)
    by_polars = _applied(spark, "polars", VALUES)

    assert len(by_spark) == len(by_polars) == len(VALUES)
    for value, spark_row, polars_row in zip(VALUES, by_spark, by_polars, strict=True):
        assert (value, spark_row) == (value, polars_row)


# The scripts names are written in here: Latin, its accents, Greek, Cyrillic, Armenian, the
# ligatures. (Letters Unicode added after Java 17's tables, e.g. U+0363-036F or U+0870-088E,
# are not letters to Spark's re-casing.)
SCRIPTS = [
    (0x20, 0x362),
    (0x370, 0x58F),
    (0x1E00, 0x1FFF),
    (0xFB00, 0xFB17),
]


def test_shouted_names_are_re_cased_as_polars_re_cases_them_in_every_script(
    spark: SparkSession,
) -> None:
    # Each character shouted between letters, and after a digit and a hyphen.
    chars = [chr(c) for low, high in SCRIPTS for c in range(low, high + 1)]
    values: list[str | None] = [f"X{c}X 1{c}X-{c}".upper() for c in chars]

    by_spark = _applied(spark, "spark", values)
    by_polars = _applied(spark, "polars", values)

    differ = [
        (v, s["proper_name"], p["proper_name"])
        for v, s, p in zip(values, by_spark, by_polars, strict=True)
        if s["proper_name"] != p["proper_name"]
    ]
    assert differ == []
