"""Staging the vendor file drops: the DuckDB twins equal the Polars ones."""

from __future__ import annotations

import random

import polars as pl
import pytest

from catalog.tables import staging
from catalog.tables.definition import TableDef
from tests.transforms.duckdb.test_normalise import (
    DATES,
    EMAILS,
    FULL_NAMES,
    NUMBERS,
    PHONES,
    SHOUTED_NAMES,
)
from tests.transforms.duckdb.twins import DuckDBStage, PolarsStage, assert_same_stage
from tests.transforms.frames import empty
from tests.transforms.polars.test_vendor_files import (
    FEEDS,
    LEGACY,
    LOYALTY,
    MARKETING,
    PRODUCT_TYPES,
    PRODUCTS,
    _contact,
    _feed_files,
    _legacy,
    _member,
    _product,
    _raw,
    _rows,
    _schema,
)
from transforms.duckdb import vendor_files as duckdb_files
from transforms.polars import vendor_files as polars_files

Row = dict[str, object]
TWINS: dict[str, tuple[PolarsStage, DuckDBStage, TableDef]] = {
    "loyalty": (
        polars_files.stage_loyalty_members,
        duckdb_files.stage_loyalty_members,
        staging.VENDOR_LOYALTY_MEMBERS,
    ),
    "marketing": (
        polars_files.stage_marketing_contacts,
        duckdb_files.stage_marketing_contacts,
        staging.VENDOR_MARKETING_LIST,
    ),
    "legacy": (
        polars_files.stage_legacy_customers,
        duckdb_files.stage_legacy_customers,
        staging.VENDOR_LEGACY_CUSTOMERS,
    ),
    "products": (
        polars_files.stage_vendor_products,
        duckdb_files.stage_vendor_products,
        staging.VENDOR_PRODUCT_FEED,
    ),
}


def _same(feed: str, prior: pl.LazyFrame | None, raw: pl.LazyFrame) -> None:
    polars_stage, duckdb_stage, table = TWINS[feed]
    assert_same_stage(
        polars_stage, duckdb_stage, table, empty(table) if prior is None else prior, raw
    )


CASES: dict[str, tuple[str, pl.LazyFrame]] = {
    "loyalty typed and normalised": (
        "loyalty",
        _raw(
            _rows(
                "loyalty/loyalty_members_20260101.json",
                1,
                [
                    _member(
                        " SP40000002 ",
                        firstName="SHERYL",
                        lastName="  Li ",
                        email=" SHERYL.LI3@OUTLOOK.COM",
                        phone="",
                        joinDate="04/08/2025",
                        points="1,976",
                    ),
                    _member("SP40000003", points="2,8380", joinDate="13/45/2024"),
                    _member(None),
                    _member("  "),
                ],
            ),
            LOYALTY,
        ),
    ),
    "newest by capture, then file, then row": (
        "loyalty",
        _raw(
            [
                *_rows("loyalty/b.json", 1, [_member("SP1", points="1")]),
                *_rows("loyalty/a.json", 2, [_member("SP1", points="2")]),
                *_rows("loyalty/b.json", 1, [_member("SP2", points="1")]),
                *_rows("loyalty/a.json", 1, [_member("SP2", points="2")]),
                *_rows("loyalty/c.json", 1, [_member("SP3", points="10")], first_position=10),
                *_rows("loyalty/c.json", 1, [_member("SP3", points="9")], first_position=9),
                # The same file read twice: the later row.
                *_rows("loyalty/d.json", 1, [_member("SP4", points="1")]),
                *_rows("loyalty/d.json", 1, [_member("SP4", points="2")]),
            ],
            LOYALTY,
        ),
    ),
    "columns no file carried yet": (
        "loyalty",
        _raw(
            _rows("loyalty/x.json", 1, [{"memberId": "SP1", "points": "5"}]), ["memberId", "points"]
        ),
    ),
    "marketing names split, answers typed": (
        "marketing",
        _raw(
            _rows(
                "marketing/Marketing_List_2026-01-05.csv",
                1,
                [
                    _contact("MKT-000001"),
                    _contact(
                        "MKT-000002",
                        Full_Name="O'Brien,  Mary-Jane",
                        Phone="",
                        Opt_In="No",
                        Date_Added="",
                        **{"E-mail Address": " CHRISTINE.OBRIEN8@GMAIL.COM"},
                    ),
                    _contact(
                        "MKT-000003",
                        Full_Name="LEE, ADA",
                        Opt_In="maybe",
                        Date_Added="Nov. 20, 2024",
                    ),
                    _contact("MKT-000004", Full_Name="  ", Opt_In=None, Date_Added="20 Sept 2024"),
                ],
            ),
            MARKETING,
        ),
    ),
    "the renamed email column": (
        "marketing",
        _raw(
            [
                *_rows("marketing/w1.csv", 1, [_contact("MKT-1"), _contact("MKT-2")]),
                *(
                    {
                        **{k: v for k, v in row.items() if k != "E-mail Address"},
                        "Email": "New@Example.com ",
                    }
                    for row in _rows("marketing/w2.csv", 2, [_contact("MKT-2")])
                ),
            ],
            [*MARKETING, "Email"],
        ),
    ),
    "legacy shouted names": (
        "legacy",
        _raw(
            _rows(
                "legacy/export_0001.xml",
                1,
                [
                    _legacy("0010002", "OBRIEN, KARREN", "13175578358", "21.08.2015"),
                    _legacy("0010001", "Lloyd, Phillip", "626-159-2858", "15.09.2005"),
                    _legacy("0010003", "O'BRIEN, MARY-JANE", "555-1234", "31.02.2015"),
                    _legacy("0010004", "STRAUß, JOHANN", "555-123-4567", "1.1.1900", " J@S.AT"),
                    _legacy("0010005", "ΠΑΠΑΔΟΠΟΥΛΟΣ, ΝΙΚΟΣ", "", "29.02.2024", ""),
                ],
            ),
            LEGACY,
        ),
    ),
    "products": (
        "products",
        _raw(
            [
                *_rows("products/product_feed_20260101.parquet", 1, [_product("APP-1", 52.99)]),
                *_rows(
                    "products/product_feed_20260102.parquet", 2, [_product("APP-1", 49.99, False)]
                ),
                *_rows("products/product_feed_20260102.parquet", 2, [_product(" APP-2 ", 1e-7)], 5),
            ],
            PRODUCTS,
            **PRODUCT_TYPES,
        ),
    ),
}


def _random_rows(feed: str, seed: int, days: range, rows: int = 300) -> list[Row]:
    """Messy rows for a few ids over a few files, some restated within a file."""
    rng = random.Random(seed)

    def text(values: list[str | None]) -> str | None:
        return rng.choice(values)

    out: list[Row] = []
    for _ in range(rows):
        key = rng.choice([f" K{rng.randrange(30)}", f"K{rng.randrange(30)}", "", None])
        record: Row
        if feed == "loyalty":
            record = _member(
                key,
                firstName=text(SHOUTED_NAMES),
                lastName=text(SHOUTED_NAMES),
                email=text(EMAILS),
                phone=text(PHONES),
                joinDate=text(DATES),
                points=text(NUMBERS),
            )
        elif feed == "marketing":
            record = _contact(
                str(key),
                Full_Name=text([*FULL_NAMES, *SHOUTED_NAMES]),
                Phone=text(PHONES),
                Opt_In=text(["Yes", "no", " Y ", "maybe", None]),
                Date_Added=text(DATES),
                **{"E-mail Address": text(EMAILS)},
            )
            record["Contact ID"] = key
        elif feed == "legacy":
            record = _legacy(
                str(key), str(text(FULL_NAMES)), str(text(PHONES)), str(text(DATES)), text(EMAILS)
            )
            record["id"] = key
        else:
            record = _product(str(key), rng.random() * 100, in_stock=rng.random() < 0.5)
            record["sku"] = key
            record["name"] = text(SHOUTED_NAMES)
        day = rng.choice(days)
        out += _rows(
            f"{feed}/{day}-{rng.randrange(2)}", day, [record], first_position=rng.randrange(1, 5)
        )
    return out


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_same_staged_rows(case: str) -> None:
    feed, raw = CASES[case]

    _same(feed, None, raw)


@pytest.mark.parametrize("feed", FEEDS)
def test_file_by_file_from_a_prior_state(feed: str) -> None:
    stage, table, record, schema = FEEDS[feed]
    first, second = _feed_files(record, feed)
    prior = stage(empty(table), pl.LazyFrame(first, schema=schema))

    _same(feed, prior, pl.LazyFrame(second, schema=schema))
    _same(feed, None, pl.LazyFrame([*first, *second], schema=schema))


@pytest.mark.parametrize("feed", TWINS)
@pytest.mark.parametrize("seed", range(3))
def test_random_messy_files(feed: str, seed: int) -> None:
    columns = {"loyalty": LOYALTY, "marketing": MARKETING, "legacy": LEGACY, "products": PRODUCTS}[
        feed
    ]
    schema = _schema(columns, PRODUCT_TYPES if feed == "products" else None)
    first = _random_rows(feed, seed, range(1, 4))
    second = _random_rows(feed, seed + 100, range(4, 7))
    polars_stage, _, table = TWINS[feed]
    prior = polars_stage(empty(table), pl.LazyFrame(first, schema=schema))

    _same(feed, None, pl.LazyFrame(first, schema=schema))
    _same(feed, prior, pl.LazyFrame(second, schema=schema))
