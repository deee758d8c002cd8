"""The DuckDB normalisers read every value as the Polars ones do."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from simulator.noise import PHONE_STYLES
from tests.transforms.duckdb.twins import relation
from transforms.duckdb import normalise as duckdb_normalise
from transforms.polars import normalise as polars_normalise

NBSP, EM_SPACE, IDEOGRAPHIC_SPACE = "\u00a0", "\u2003", "\u3000"
FULL_WIDTH_PHONE = "".join(chr(0xFF10 + int(d)) for d in "15551234567")

PHONES = [
    *(style.format(a="555", b="123", c="4567") for style in PHONE_STYLES),
    "5551234567",
    "15551234567",
    "+1 (555) 123-4567",
    "  555 123 4567  ",
    "+15551234567",
    f"555{NBSP}123{NBSP}4567",
    "555\t123\t4567",
    "555-123-4567 ext. 89",  # too many digits
    FULL_WIDTH_PHONE,  # not 0-9, so no digit is left
    "+44 20 7946 0958",  # eleven digits, not country 1
    "+44 20 7946 0958 1",
    "25551234567",
    "555-1234",
    "n/a",
    "",
    None,
]
EMAILS = [
    "ada@example.com",
    " ADA.Lovelace@Example.COM",
    "ada@example.com \t",
    f"{NBSP}Ada@Example.com{NBSP}",
    "\v\fADA@EXAMPLE.COM\r\n",
    f"{EM_SPACE}ada@example.com",  # not white space to the normaliser: kept
    "ADA @ EXAMPLE.COM",  # inner spaces are kept
    "\u0130STANBUL@EXAMPLE.COM",  # a capital I with a dot: two code points in lower case
    "ÉLODIE@EXAMPLE.FR",
    "",
    "   ",
    f"{NBSP}\t",
    None,
]
NAMES = [
    "Ada",
    "  Ada ",
    "Mary   Ann",
    "Mary\t Ann",
    f"Mary{NBSP}Ann",
    f"{NBSP} Mary {NBSP}\tAnn\n",
    "O'Brien\v\f",
    f"Zoë{IDEOGRAPHIC_SPACE}Ng",  # not white space to the normaliser: kept
    "   ",
    "",
    None,
]


def _both(
    polars_expr: pl.Expr, duckdb_expr: duckdb.Expression, values: list[str | None]
) -> tuple[list[str | None], list[str | None]]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    expected = frame.select(polars_expr)["v"].to_list()
    actual = [row[0] for row in relation(frame).select(duckdb_expr).fetchall()]
    return expected, actual


def test_phones_in_every_style() -> None:
    expected, actual = _both(
        polars_normalise.phone_e164("v"), duckdb_normalise.phone_e164("v"), PHONES
    )

    assert actual == expected
    assert actual[: len(PHONE_STYLES)] == ["+15551234567"] * len(PHONE_STYLES)


@pytest.mark.parametrize("country_code", ["1", "44", "353"])
def test_phone_country_code(country_code: str) -> None:
    values = [*PHONES, "2079460958", "442079460958", "35312345678"]

    expected, actual = _both(
        polars_normalise.phone_e164("v", country_code),
        duckdb_normalise.phone_e164("v", country_code),
        values,
    )

    assert actual == expected


def test_emails() -> None:
    expected, actual = _both(polars_normalise.email("v"), duckdb_normalise.email("v"), EMAILS)

    assert actual == expected


@pytest.mark.parametrize("values", [NAMES, EMAILS, PHONES], ids=["names", "emails", "phones"])
def test_names(values: list[str | None]) -> None:
    expected, actual = _both(polars_normalise.name("v"), duckdb_normalise.name("v"), values)

    assert actual == expected


def test_trimmed() -> None:
    expected, actual = _both(
        polars_normalise.trimmed("v"), duckdb_normalise.trimmed("v"), [*NAMES, *EMAILS]
    )

    assert actual == expected


def test_expressions_keep_the_column_name() -> None:
    frame = pl.DataFrame({"email": [" A@B.C "], "phone": ["555.123.4567"], "first": [" Al "]})

    out = relation(frame).select(
        duckdb_normalise.email("email"),
        duckdb_normalise.phone_e164("phone"),
        duckdb_normalise.name("first"),
    )

    assert out.columns == ["email", "phone", "first"]
    assert out.fetchall() == [("a@b.c", "+15551234567", "Al")]
