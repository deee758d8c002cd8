"""Normalisation rules for identity attributes (phones, emails, names, countries) and for
the vendors' dates, times, yes/no answers and numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import polars as pl
import pytest

from simulator.noise import DATE_STYLES, PHONE_STYLES
from transforms.polars import normalise


def _apply(expr: pl.Expr, values: list[str | None]) -> list[str | None]:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr)["v"].to_list()


@pytest.mark.parametrize("style", PHONE_STYLES)
def test_every_crm_phone_style_becomes_e164(style: str) -> None:
    typed = style.format(a="555", b="123", c="4567")

    assert _apply(normalise.phone_e164("v"), [typed]) == ["+15551234567"]


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("5551234567", "+15551234567"),
        ("15551234567", "+15551234567"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("  555 123 4567  ", "+15551234567"),
        ("+15551234567", "+15551234567"),
    ],
)
def test_phones_with_or_without_the_country_code(typed: str, e164: str) -> None:
    assert _apply(normalise.phone_e164("v"), [typed]) == [e164]


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "n/a",
        "555-1234",  # too short
        "25551234567",  # eleven digits, not country 1
        "+44 20 7946 0958 1",  # too long
    ],
)
def test_unparseable_phones_become_null(garbage: str | None) -> None:
    assert _apply(normalise.phone_e164("v"), [garbage]) == [None]


def test_phone_country_code_is_configurable() -> None:
    assert _apply(normalise.phone_e164("v", country_code="44"), ["2079460958"]) == ["+442079460958"]


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("ada@example.com", "ada@example.com"),
        (" ADA.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("ada@example.com \t", "ada@example.com"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_emails_are_trimmed_and_lower_cased(typed: str | None, clean: str | None) -> None:
    assert _apply(normalise.email("v"), [typed]) == [clean]


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("Ada", "Ada"),
        ("  Ada ", "Ada"),
        ("Mary   Ann", "Mary Ann"),
        ("Mary\t Ann", "Mary Ann"),
        (None, None),
    ],
)
def test_names_are_trimmed_with_inner_space_collapsed(typed: str | None, clean: str | None) -> None:
    assert _apply(normalise.name("v"), [typed]) == [clean]


def test_expressions_keep_the_column_name() -> None:
    frame = pl.DataFrame({"email": [" A@B.C "], "phone": ["555.123.4567"], "first": [" Al "]})

    out = frame.with_columns(
        normalise.email("email"), normalise.phone_e164("phone"), normalise.name("first")
    )

    assert out.to_dicts() == [{"email": "a@b.c", "phone": "+15551234567", "first": "Al"}]


def _typed(expr: pl.Expr, values: Sequence[str | None]) -> list[object]:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr)["v"].to_list()


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("511.685.5646", "+15116855646"),  # loyalty
        ("(390) 210-5194", "+13902105194"),  # marketing
        ("13175578358", "+13175578358"),  # legacy
        ("626-159-2858", "+16261592858"),  # legacy
        ("+1-511-685-5646", "+15116855646"),
        ("\u00a0(511)\t685.5646 ", "+15116855646"),
    ],
)
def test_every_vendor_phone_style_becomes_e164(typed: str, e164: str) -> None:
    assert _apply(normalise.phone_e164("v"), [typed]) == [e164]


@pytest.mark.parametrize(
    "typed", ["555-123-4567 x89", "(555) 123-4567 ext. 12", "+1 555 123 4567#9"]
)
def test_a_phone_with_an_extension_is_not_guessed_at(typed: str) -> None:
    # Its digits run past eleven: which are the extension is not the normaliser's guess.
    assert _apply(normalise.phone_e164("v"), [typed]) == [None]


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("\u00a0Ada@Example.com\u00a0", "ada@example.com"),
        ("\tSHERYL.LI3@OUTLOOK.COM\r\n", "sheryl.li3@outlook.com"),
        ("\u00a0 \t", None),
    ],
)
def test_emails_lose_no_break_spaces_and_tabs(typed: str, clean: str | None) -> None:
    assert _apply(normalise.email("v"), [typed]) == [clean]


# --- Names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("OBRIEN", "Obrien"),
        ("O'BRIEN", "O'Brien"),
        ("MARY-JANE", "Mary-Jane"),
        ("  JOSÉ   ÁLVAREZ ", "José Álvarez"),
        ("McBride", "McBride"),  # typed in mixed case: kept
        ("van der Berg", "van der Berg"),
        ("d'Arcy", "d'Arcy"),
        ("\u00a0Ada\t", "Ada"),
        ("", None),
        (" \u00a0", None),
        (None, None),
    ],
)
def test_proper_names_are_re_cased_only_when_shouted(typed: str | None, clean: str | None) -> None:
    assert _apply(normalise.proper_name("v"), [typed]) == [clean]


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("O'Brien, Mary-Jane", "Mary-Jane", "O'Brien"),
        ("Lloyd, Phillip", "Phillip", "Lloyd"),
        ("OBRIEN, KARREN", "KARREN", "OBRIEN"),
        ("  Lee ,\u00a0Ada  ", "Ada", "Lee"),
        ("Lee,Ada", "Ada", "Lee"),
        ("Phillip Lloyd", "Phillip", "Lloyd"),
        ("Mary Ann\t Lee", "Mary Ann", "Lee"),
        ("Cher", "Cher", None),
        ("Smith,", None, "Smith"),
        (", Ada", "Ada", None),
        (" , ", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_full_names_split_into_first_and_last(
    full: str | None, first: str | None, last: str | None
) -> None:
    frame = pl.DataFrame({"full": [full]}, schema={"full": pl.String})

    out = frame.select(*normalise.split_last_first("full", first="first", last="last"))

    assert out.row(0) == (first, last)


# --- Dates and times ------------------------------------------------------------------------


@pytest.mark.parametrize("style", DATE_STYLES)
def test_every_simulated_date_style_is_read(style: str) -> None:
    for day in (date(2024, 11, 20), date(2005, 9, 5), date(2024, 2, 29)):
        assert _typed(normalise.date_any("v"), [day.strftime(style)]) == [day]


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2024-10-19", date(2024, 10, 19)),  # ISO (marketing)
        ("11/20/2024", date(2024, 11, 20)),  # US (loyalty)
        ("15.09.2005", date(2005, 9, 15)),  # European (legacy)
        ("1/5/2024", date(2024, 1, 5)),  # US, no zeros: January 5th
        ("5.1.2024", date(2024, 1, 5)),  # European, no zeros: 5 January
        ("2024/1/5", date(2024, 1, 5)),
        ("Nov 20 2024", date(2024, 11, 20)),
        ("nov. 20, 2024", date(2024, 11, 20)),
        ("November 20 2024", date(2024, 11, 20)),
        ("Sept 3 2024", date(2024, 9, 3)),
        ("20 Nov 2024", date(2024, 11, 20)),
        ("\u00a0 11/20/2024\t", date(2024, 11, 20)),
        ("Nov\u00a0\u00a020  2024", date(2024, 11, 20)),
    ],
)
def test_dates_in_any_vendor_style(typed: str, day: date) -> None:
    assert _typed(normalise.date_any("v"), [typed]) == [day]


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "n/a",
        "02/30/2024",  # no such day
        "13/01/2024",  # slashes are US: no 13th month
        "2024-13-01",
        "11/20/24",  # two-digit year: which century is a guess
        "20241120",
        "Smarch 3 2024",
        "2024-10-19T10:00:00Z",  # a timestamp is not a date
        "\u0662\u0660\u0662\u0664-\u0661\u0660-\u0661\u0669",  # Arabic-Indic digits
    ],
)
def test_unreadable_dates_become_null(garbage: str | None) -> None:
    assert _typed(normalise.date_any("v"), [garbage]) == [None]


def test_date_any_keeps_the_column_name() -> None:
    frame = pl.DataFrame({"since": ["15.09.2005"]})

    assert frame.select(normalise.date_any("since")).to_dicts() == [{"since": date(2005, 9, 15)}]


@pytest.mark.parametrize(
    ("typed", "at"),
    [
        ("2026-01-01T00:54:54Z", datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC)),
        ("2026-01-01 00:54:54Z", datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC)),
        ("2026-01-01t00:54:54z", datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC)),
        ("2026-01-01T00:54", datetime(2026, 1, 1, 0, 54, tzinfo=UTC)),  # no zone: UTC
        ("2026-01-01T00:54:54.5Z", datetime(2026, 1, 1, 0, 54, 54, 500000, tzinfo=UTC)),
        ("2026-01-01T00:54:54.1234567Z", datetime(2026, 1, 1, 0, 54, 54, 123456, tzinfo=UTC)),
        ("2026-01-01T01:54:54+01:00", datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC)),
        ("2025-12-31T19:54:54-0500", datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC)),
        (" 2026-01-01T00:54:54Z\u00a0", datetime(2026, 1, 1, 0, 54, 54, tzinfo=UTC)),
    ],
)
def test_iso_timestamps_are_read_as_utc(typed: str, at: datetime) -> None:
    assert _typed(normalise.timestamp_utc("v"), [typed]) == [at]


@pytest.mark.parametrize(
    "garbage",
    [None, "", "2026-01-01", "2026-01-01T25:00:00Z", "2026-02-30T00:00:00Z", "yesterday"],
)
def test_unreadable_timestamps_become_null(garbage: str | None) -> None:
    assert _typed(normalise.timestamp_utc("v"), [garbage]) == [None]


# --- Answers, numbers, countries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("Yes", True),
        ("No", False),
        ("Y", True),
        ("n", False),
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        (" yes\u00a0", True),
        ("maybe", None),
        ("", None),
        (None, None),
    ],
)
def test_yes_no_answers_become_booleans(typed: str | None, answer: bool | None) -> None:
    assert _typed(normalise.boolean_any("v"), [typed]) == [answer]


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("2296", 2296),
        ("1,234", 1234),  # the loyalty partner's formatted export
        ("1,234,567", 1234567),
        (" 72\t", 72),
        ("+12", 12),
        ("-3", -3),
        ("2,8380", None),  # commas in the wrong place: not a number we can trust
        ("1,23", None),
        ("12.5", None),
        ("1 234", None),
        ("99999999999999999999", None),  # beyond 64 bits
        ("", None),
        (None, None),
    ],
)
def test_whole_numbers_with_or_without_thousands_commas(
    typed: str | None, number: int | None
) -> None:
    assert _typed(normalise.whole_number("v"), [typed]) == [number]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("US", "US"),  # what the CRM writes
        ("United States", "US"),
        ("united states of america", "US"),
        ("U.S.", "US"),
        ("U.S.A.", "US"),
        (" usa\u00a0", "US"),
        ("Canada", "CA"),
        ("CAN", "CA"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("gb", "GB"),
        ("Great\t Britain", "GB"),
        ("México", "MX"),
        ("Narnia", None),
        ("", None),
        (None, None),
    ],
)
def test_countries_become_iso_alpha_2(typed: str | None, code: str | None) -> None:
    assert _typed(normalise.country_code("v"), [typed]) == [code]


def test_every_country_code_maps_to_itself() -> None:
    codes = sorted(set(normalise.COUNTRIES.values()))

    assert _typed(normalise.country_code("v"), codes) == codes
