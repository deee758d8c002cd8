"""Normalisation rules for identity attributes: phones, emails, names."""

from __future__ import annotations

import polars as pl
import pytest

from simulator.noise import PHONE_STYLES
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
