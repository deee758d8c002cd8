"""Staging the vendor file drops: each vendor id's newest record, typed and normalised."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from catalog.tables import staging
from catalog.tables.definition import TableDef
from tests.transforms.frames import empty
from transforms.polars.vendor_files import (
    stage_legacy_customers,
    stage_loyalty_members,
    stage_marketing_contacts,
    stage_vendor_products,
)

Stage = Callable[[pl.LazyFrame, pl.LazyFrame], pl.LazyFrame]
UTC_US = pl.Datetime("us", "UTC")
INGEST_SCHEMA: dict[str, pl.DataType] = {
    "_source": pl.String(),
    "_batch_id": pl.String(),
    "_ingested_at": UTC_US,
    "_source_file": pl.String(),
    "_source_position": pl.String(),
    "_file_size": pl.Int64(),
    "_file_checksum": pl.String(),
}


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, 6, tzinfo=UTC)


def _rows(
    file: str, day: int, records: list[dict[str, object]], first_position: int = 1
) -> list[dict[str, object]]:
    """`records` as raw holds them: one file, landed on `day`, rows numbered from 1."""
    return [
        {
            **record,
            "_source": "vendor_files.test",
            "_batch_id": f"b-{file}",
            "_ingested_at": _at(day),
            "_source_file": file,
            "_source_position": str(position),
            "_file_size": 1000,
            "_file_checksum": "0" * 64,
        }
        for position, record in enumerate(records, start=first_position)
    ]


def _raw(rows: list[dict[str, object]], columns: list[str], **types: pl.DataType) -> pl.LazyFrame:
    """Raw rows with the file columns `columns` (text unless typed) and the ingest columns."""
    return pl.LazyFrame(rows, schema=_schema(columns, types))


def _schema(columns: list[str], types: dict[str, pl.DataType] | None = None) -> pl.Schema:
    """File columns (text unless typed in `types`), then the ingest columns."""
    typed = types or {}
    return pl.Schema([*((c, typed.get(c, pl.String())) for c in columns), *INGEST_SCHEMA.items()])


def _stage(stage: Stage, table: TableDef, raw: pl.LazyFrame) -> pl.DataFrame:
    staged = stage(empty(table), raw).collect()
    assert staged.columns == table.column_names
    return staged


# --- Loyalty --------------------------------------------------------------------------------

LOYALTY = ["memberId", "firstName", "lastName", "email", "phone", "joinDate", "points"]
LOYALTY += ["tier", "status"]


def _member(member_id: str | None, **fields: object) -> dict[str, object]:
    return {
        "memberId": member_id,
        "firstName": "Gary",
        "lastName": "Lloyd",
        "email": "gary.lloyd2@proton.me",
        "phone": "511.685.5646",
        "joinDate": "11/20/2024",
        "points": "2296",
        "tier": "Silver",
        "status": "active",
        **fields,
    }


def _loyalty_from(raw: pl.LazyFrame) -> pl.DataFrame:
    return _stage(stage_loyalty_members, staging.VENDOR_LOYALTY_MEMBERS, raw)


def _loyalty(*rows: dict[str, object]) -> pl.DataFrame:
    return _loyalty_from(_raw(list(rows), LOYALTY))


def test_a_loyalty_member_is_typed_and_normalised() -> None:
    staged = _loyalty(
        *_rows(
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
                )
            ],
        )
    )

    assert staged.to_dicts() == [
        {
            "member_id": "SP40000002",
            "first_name": "Sheryl",
            "last_name": "Li",
            "email": "sheryl.li3@outlook.com",
            "phone": None,
            "join_date": date(2025, 4, 8),
            "points": 1976,
            "tier": "Silver",
            "status": "active",
            "source_file": "loyalty/loyalty_members_20260101.json",
            "ingested_at": _at(1),
        }
    ]


def test_the_newest_version_wins_by_capture_then_file_then_row() -> None:
    staged = _loyalty(
        # Captured later wins, even from an earlier-named file.
        *_rows("loyalty/b.json", 1, [_member("SP1", points="1")]),
        *_rows("loyalty/a.json", 2, [_member("SP1", points="2")]),
        # Same capture time: the later landing key wins.
        *_rows("loyalty/b.json", 1, [_member("SP2", points="1")]),
        *_rows("loyalty/a.json", 1, [_member("SP2", points="2")]),
        # Same file: the later row wins, by number ("10" after "9").
        *_rows("loyalty/c.json", 1, [_member("SP3", points="10")], first_position=10),
        *_rows("loyalty/c.json", 1, [_member("SP3", points="9")], first_position=9),
    )

    assert staged.select("member_id", "points").rows() == [("SP1", 2), ("SP2", 1), ("SP3", 10)]


def test_a_loyalty_member_missing_from_new_files_keeps_the_prior_record() -> None:
    first = _rows("loyalty/d1.json", 1, [_member("SP1"), _member("SP2", status="active")])
    delta = _rows("loyalty/d2.json", 2, [_member("SP2", status="cancelled")])
    prior = stage_loyalty_members(empty(staging.VENDOR_LOYALTY_MEMBERS), _raw(first, LOYALTY))

    staged = stage_loyalty_members(prior, _raw(delta, LOYALTY)).collect()

    assert staged.select("member_id", "status", "source_file").rows() == [
        ("SP1", "active", "loyalty/d1.json"),
        ("SP2", "cancelled", "loyalty/d2.json"),
    ]


def test_rows_without_a_member_id_are_not_staged() -> None:
    staged = _loyalty(*_rows("loyalty/x.json", 1, [_member(None), _member("  "), _member("SP9")]))

    assert staged["member_id"].to_list() == ["SP9"]


def test_garbage_points_and_dates_become_null() -> None:
    staged = _loyalty(
        *_rows("loyalty/x.json", 1, [_member("SP1", points="2,8380", joinDate="13/45/2024")])
    )

    assert staged.select("points", "join_date").row(0) == (None, None)


def test_columns_no_file_carried_yet_are_null() -> None:
    rows = _rows("loyalty/x.json", 1, [{"memberId": "SP1", "points": "5"}])

    staged = _loyalty_from(_raw(rows, ["memberId", "points"]))

    assert staged.row(0, named=True) == {
        "member_id": "SP1",
        "first_name": None,
        "last_name": None,
        "email": None,
        "phone": None,
        "join_date": None,
        "points": 5,
        "tier": None,
        "status": None,
        "source_file": "loyalty/x.json",
        "ingested_at": _at(1),
    }


# --- Marketing ------------------------------------------------------------------------------

MARKETING = ["Contact ID", "Full Name", "E-mail Address", "Phone", "Opt In", "Lead Source"]
MARKETING += ["Date Added"]


def _contact(contact_id: str, **fields: object) -> dict[str, object]:
    return {
        "Contact ID": contact_id,
        "Full Name": "Phillip Lloyd",
        "E-mail Address": "phillip.lloyd1@outlook.com",
        "Phone": "(390) 210-5194",
        "Opt In": "Yes",
        "Lead Source": "Trade Show, Austin",
        "Date Added": "2024-10-19",
        **{k.replace("_", " "): v for k, v in fields.items()},
    }


def test_marketing_contacts_split_last_first_names_and_type_answers() -> None:
    rows = _rows(
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
        ],
    )

    staged = _stage(stage_marketing_contacts, staging.VENDOR_MARKETING_LIST, _raw(rows, MARKETING))

    assert staged.drop("source_file", "ingested_at").to_dicts() == [
        {
            "contact_id": "MKT-000001",
            "full_name": "Phillip Lloyd",
            "first_name": "Phillip",
            "last_name": "Lloyd",
            "email": "phillip.lloyd1@outlook.com",
            "phone": "+13902105194",
            "is_opted_in": True,
            "lead_source": "Trade Show, Austin",
            "added_date": date(2024, 10, 19),
        },
        {
            "contact_id": "MKT-000002",
            "full_name": "O'Brien, Mary-Jane",
            "first_name": "Mary-Jane",
            "last_name": "O'Brien",
            "email": "christine.obrien8@gmail.com",
            "phone": None,
            "is_opted_in": False,
            "lead_source": "Trade Show, Austin",
            "added_date": None,
        },
    ]


def test_the_renamed_email_column_is_read_too() -> None:
    # The week the agency renamed "E-mail Address" to "Email": raw holds both columns.
    before = _rows("marketing/w1.csv", 1, [_contact("MKT-1"), _contact("MKT-2")])
    renamed = [
        {**{k: v for k, v in row.items() if k != "E-mail Address"}, "Email": "New@Example.com "}
        for row in _rows("marketing/w2.csv", 2, [_contact("MKT-2")])
    ]
    raw = _raw([*before, *renamed], [*MARKETING, "Email"])

    staged = _stage(stage_marketing_contacts, staging.VENDOR_MARKETING_LIST, raw)

    assert staged.select("contact_id", "email").rows() == [
        ("MKT-1", "phillip.lloyd1@outlook.com"),
        ("MKT-2", "new@example.com"),
    ]


def test_a_contact_dropped_from_the_list_keeps_its_last_row() -> None:
    raw = _raw(
        [
            *_rows("marketing/w1.csv", 1, [_contact("MKT-1"), _contact("MKT-2")]),
            *_rows("marketing/w2.csv", 8, [_contact("MKT-2", Opt_In="N")]),
        ],
        MARKETING,
    )

    staged = _stage(stage_marketing_contacts, staging.VENDOR_MARKETING_LIST, raw)

    assert staged.select("contact_id", "is_opted_in", "source_file").rows() == [
        ("MKT-1", True, "marketing/w1.csv"),
        ("MKT-2", False, "marketing/w2.csv"),
    ]


# --- Legacy ---------------------------------------------------------------------------------

LEGACY = ["id", "name", "email", "phone", "since"]


def _legacy(
    legacy_id: str, name: str, phone: str, since: str, email: str | None = None
) -> dict[str, object]:
    return {"id": legacy_id, "name": name, "email": email, "phone": phone, "since": since}


def test_legacy_customers_shouted_names_are_split_and_re_cased() -> None:
    rows = _rows(
        "legacy/export_0001.xml",
        1,
        [
            _legacy("0010002", "OBRIEN, KARREN", "13175578358", "21.08.2015"),
            _legacy("0010001", "Lloyd, Phillip", "626-159-2858", "15.09.2005"),
            _legacy("0010003", "O'BRIEN, MARY-JANE", "555-1234", "31.02.2015"),
        ],
    )

    staged = _stage(stage_legacy_customers, staging.VENDOR_LEGACY_CUSTOMERS, _raw(rows, LEGACY))

    assert staged.drop("email", "source_file", "ingested_at").rows() == [
        ("0010001", "Lloyd, Phillip", "Phillip", "Lloyd", "+16261592858", date(2005, 9, 15)),
        ("0010002", "OBRIEN, KARREN", "Karren", "Obrien", "+13175578358", date(2015, 8, 21)),
        ("0010003", "O'BRIEN, MARY-JANE", "Mary-Jane", "O'Brien", None, None),
    ]


# --- Product feed ---------------------------------------------------------------------------

PRODUCTS = ["sku", "name", "category", "price", "in_stock"]
PRODUCT_TYPES: dict[str, pl.DataType] = {"price": pl.Float64(), "in_stock": pl.Boolean()}


def _product(sku: str, price: float, in_stock: bool = True) -> dict[str, object]:
    return {
        "sku": sku,
        "name": " Compact  Sand T-Shirt",
        "category": "Apparel",
        "price": price,
        "in_stock": in_stock,
    }


def test_vendor_products_keep_the_newest_feed_row() -> None:
    raw = _raw(
        [
            *_rows("products/product_feed_20260101.parquet", 1, [_product("APP-1", 52.99)]),
            *_rows("products/product_feed_20260102.parquet", 2, [_product("APP-1", 49.99, False)]),
        ],
        PRODUCTS,
        **PRODUCT_TYPES,
    )

    staged = _stage(stage_vendor_products, staging.VENDOR_PRODUCT_FEED, raw)

    assert staged.to_dicts() == [
        {
            "sku": "APP-1",
            "name": "Compact Sand T-Shirt",
            "category": "Apparel",
            "price": 49.99,
            "is_in_stock": False,
            "source_file": "products/product_feed_20260102.parquet",
            "ingested_at": _at(2),
        }
    ]


# --- Every feed -----------------------------------------------------------------------------


def _feed_files(
    record: Callable[[str, int], dict[str, object]], prefix: str
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Two batches of files: the second restates some ids, adds others, and repeats one id
    within a file (its later row wins)."""
    first = [
        *_rows(f"{prefix}/1", 1, [record("A", 1), record("B", 1), record("C", 1)]),
        *_rows(f"{prefix}/2", 2, [record("B", 2), record("D", 2)]),
    ]
    second = [
        *_rows(f"{prefix}/3", 3, [record("A", 3), record("E", 3), record("A", 4)]),
        *_rows(f"{prefix}/4", 4, [record("C", 5)], first_position=10),
    ]
    return first, second


FEEDS: dict[str, tuple[Stage, TableDef, Callable[[str, int], dict[str, object]], pl.Schema]] = {
    "loyalty": (
        stage_loyalty_members,
        staging.VENDOR_LOYALTY_MEMBERS,
        lambda key, n: _member(key, points=f"{n},000", joinDate=f"0{n}/0{n}/2024"),
        _schema(LOYALTY),
    ),
    "marketing": (
        stage_marketing_contacts,
        staging.VENDOR_MARKETING_LIST,
        lambda key, n: _contact(key, Opt_In="Yes" if n % 2 else "No", Date_Added=f"2024-0{n}-01"),
        _schema(MARKETING),
    ),
    "legacy": (
        stage_legacy_customers,
        staging.VENDOR_LEGACY_CUSTOMERS,
        lambda key, n: _legacy(
            key, f"DOE{n}, JANE", f"555-000-000{n}", f"0{n}.01.2010", f" Jane{n}@Example.com"
        ),
        _schema(LEGACY),
    ),
    "products": (
        stage_vendor_products,
        staging.VENDOR_PRODUCT_FEED,
        lambda key, n: _product(key, 10.0 + n, in_stock=n % 2 == 0),
        _schema(PRODUCTS, PRODUCT_TYPES),
    ),
}


@pytest.mark.parametrize("feed", FEEDS)
def test_staging_file_by_file_equals_a_full_rebuild(feed: str) -> None:
    stage, table, record, schema = FEEDS[feed]
    first, second = _feed_files(record, feed)

    prior = stage(empty(table), pl.LazyFrame(first, schema=schema)).collect()
    incremental = stage(prior.lazy(), pl.LazyFrame(second, schema=schema)).collect()
    rebuilt = stage(empty(table), pl.LazyFrame([*first, *second], schema=schema)).collect()

    assert_frame_equal(incremental, rebuilt)
    assert incremental.height == 5
    assert incremental["source_file"].to_list() == [
        f"{feed}/3",  # A: the later of its two rows in file 3
        f"{feed}/2",  # B
        f"{feed}/4",  # C
        f"{feed}/2",  # D
        f"{feed}/3",  # E
    ]


@pytest.mark.parametrize("feed", FEEDS)
def test_staged_types_are_the_staging_tables(feed: str) -> None:
    stage, table, record, schema = FEEDS[feed]
    rows, _ = _feed_files(record, feed)

    staged = stage(empty(table), pl.LazyFrame(rows, schema=schema)).collect()

    assert staged.schema == empty(table).collect_schema()
    assert staged.null_count().row(0) == (0,) * len(table.columns)
