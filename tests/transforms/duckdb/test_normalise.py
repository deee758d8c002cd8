"""The DuckDB normalisers read every value as the Polars ones do."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.noise import DATE_STYLES, PHONE_STYLES
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
) -> tuple[list[object], list[object]]:
    """Each value normalised by both engines (as text, so any date or time Arrow holds can
    be compared)."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    expected = frame.select(polars_expr).to_arrow().column(0)
    actual = relation(frame).select(duckdb_expr).to_arrow_table().column(0)
    if actual.type != expected.type:
        actual = actual.cast(expected.type)
    return _listed(expected), _listed(actual)


def _listed(column: pa.ChunkedArray) -> list[object]:
    if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.string()).to_pylist()
    return column.to_pylist()


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


SHOUTED_NAMES = [
    *NAMES,
    "OBRIEN",
    "O'BRIEN",
    "MARY-JANE",
    "  JOSÉ   ÁLVAREZ ",
    "McBride",
    "van der Berg",
    "d'Arcy",
    "3RD",
    "ANNE2MARIE",
    "ÉLODIE",
    "E\u0301LODIE",  # a combining accent ends a run of letters, as in Polars
    "\u0130STANBUL",
    "NIKOS \u039d\u0399\u039a\u039f\u03a3",  # a word-final capital sigma
    "\u039f\u0394\u039f\u03a3.",
    "STRAU\u00df",  # ß upper-cases to SS: not shouted
    "\ufb01NN",  # ligature fi: not shouted
    "\u01c4EMAL",  # Ǆ: title case ǅ
    "\u01c5EMAL",
    "DŽEMAL",
    "\u00c6SIR",
    "Ø'NEIL",
    "X Æ A-12",
    "123",
    "-",
]


def test_proper_names() -> None:
    expected, actual = _both(
        polars_normalise.proper_name("v"), duckdb_normalise.proper_name("v"), SHOUTED_NAMES
    )

    assert actual == expected


FULL_NAMES = [
    "O'Brien, Mary-Jane",
    "Lloyd, Phillip",
    "OBRIEN, KARREN",
    "  Lee ,\u00a0Ada  ",
    "Lee,Ada",
    "Phillip Lloyd",
    "Mary Ann\t Lee",
    "Cher",
    "Smith,",
    ", Ada",
    " , ",
    "a, b, c",
    "Lee,, Ada",
    "Mary\u3000Ann Lee",
    "",
    None,
]


@pytest.mark.parametrize("part", [0, 1], ids=["first", "last"])
def test_full_names_split(part: int) -> None:
    expected, actual = _both(
        polars_normalise.split_last_first("v", first="v", last="v")[part],
        duckdb_normalise.split_last_first("v", first="v", last="v")[part],
        FULL_NAMES,
    )

    assert actual == expected


DATES = [
    *(
        day.strftime(style)
        for style in DATE_STYLES
        for day in (date(2024, 11, 20), date(2005, 9, 5), date(2024, 2, 29), date(1, 1, 1))
    ),
    "2024-10-19",
    "11/20/2024",
    "15.09.2005",
    "1/5/2024",
    "5.1.2024",
    "2024/1/5",
    "Nov 20 2024",
    "nov. 20, 2024",
    "November 20 2024",
    "Sept 3 2024",
    "SEPT 3 2024",
    "sep. 3, 2024",
    "20 Nov 2024",
    "20 nov., 2024",
    "\u00a0 11/20/2024\t",
    "Nov\u00a0\u00a020  2024",
    "0000-01-01",
    "9999-12-31",
    "02/30/2024",
    "13/01/2024",
    "2024-13-01",
    "2024-00-10",
    "2024-10-00",
    "11/20/24",
    "20241120",
    "Smarch 3 2024",
    "May 32 2024",
    "2024-10-19T10:00:00Z",
    "\u0662\u0660\u0662\u0664-\u0661\u0660-\u0661\u0669",
    "n/a",
    "",
    None,
]
TIMESTAMPS = [
    "2026-01-01T00:54:54Z",
    "2026-01-01 00:54:54Z",
    "2026-01-01t00:54:54z",
    "2026-01-01T00:54",
    "2026-01-01T00:54:54.5Z",
    "2026-01-01T00:54:54.1234567Z",
    "2026-01-01T00:54:54.000001Z",
    "2026-01-01T01:54:54+01:00",
    "2025-12-31T19:54:54-0500",
    "2025-12-31T19:54:54-23:59",
    "2025-12-31T19:54:54+23:59",
    " 2026-01-01T00:54:54Z\u00a0",
    "2026-01-01T23:59:60Z",  # a leap second: the next minute, as chrono reads it
    "2026-01-01T23:59:60.5Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-05:00",
    "2026-01-01",
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:60:00Z",
    "2026-01-01T23:59:61Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00+05:60",
    "2026-01-01T00:00:00+05",
    "2026-01-01T00:00:00.Z",
    "2026-01-01T00:00:00,5Z",
    "yesterday",
    "",
    None,
]
ANSWERS = [
    "Yes",
    "No",
    "Y",
    "n",
    "true",
    "FALSE",
    "1",
    "0",
    " yes\u00a0",
    "T",
    "f",
    "maybe",
    "",
    None,
]
NUMBERS = [
    "2296",
    "1,234",
    "1,234,567",
    " 72\t",
    "+12",
    "-3",
    "-0",
    "007",
    "2,8380",
    "1,23",
    "12.5",
    "1 234",
    "++1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "99999999999999999999",
    "\u0661\u0662",
    "",
    None,
]
COUNTRY_NAMES = [
    *polars_normalise.COUNTRIES,
    *(c.lower() for c in polars_normalise.COUNTRIES),
    "U.S.",
    "U.S.A.",
    " usa\u00a0",
    "Great\t Britain",
    "México",
    "españa",
    "united  states",
    "u. s.",
    "Narnia",
    "",
    None,
]


@pytest.mark.parametrize(
    ("normaliser", "values"),
    [
        ("date_any", DATES),
        ("timestamp_utc", TIMESTAMPS),
        ("boolean_any", ANSWERS),
        ("whole_number", NUMBERS),
        ("country_code", COUNTRY_NAMES),
    ],
)
def test_vendor_values(normaliser: str, values: list[str | None]) -> None:
    expected, actual = _both(
        getattr(polars_normalise, normaliser)("v"),
        getattr(duckdb_normalise, normaliser)("v"),
        values,
    )

    assert actual == expected
