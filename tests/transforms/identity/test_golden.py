"""The golden record's survivorship rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from transforms.identity.golden import golden_records
from transforms.identity.records import RECORD_SCHEMA as IDENTITY_RECORD

# Identity records with their key, as resolution hands them to `golden_records`.
RECORD_SCHEMA = pl.Schema(
    {
        "customer_key": pl.Int64(),
        **{
            c: t
            for c, t in IDENTITY_RECORD.items()
            if c not in ("crm_ref", "order_ref", "device_id")
        },
    }
)


def _day(day: int) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC)


def _records(*rows: dict[str, Any]) -> pl.DataFrame:
    """Records of customer 1 unless a row says otherwise; unnamed attributes are null."""
    full = [
        {"customer_key": 1, **{name: None for name in RECORD_SCHEMA if name != "customer_key"}}
        | row
        for row in rows
    ]
    return pl.DataFrame(full, schema=RECORD_SCHEMA)


def _golden(*rows: dict[str, Any]) -> dict[str, Any]:
    golden = golden_records(_records(*rows))
    assert golden.height == 1
    return golden.row(0, named=True)


def test_a_typo_loses_to_the_spelling_most_records_agree_on() -> None:
    golden = _golden(
        {"source": "crm", "source_record_id": "c1", "first_name": "Jon", "last_name": "Smith"},
        {"source": "orders", "source_record_id": "o1", "first_name": "John", "last_name": "Smith"},
        {"source": "loyalty", "source_record_id": "l1", "first_name": "John", "last_name": "Smyth"},
        {"source": "tickets", "source_record_id": "t1", "first_name": "John"},
    )

    assert (golden["first_name"], golden["first_name_source"]) == ("John", "loyalty:l1")
    assert (golden["last_name"], golden["last_name_source"]) == ("Smith", "crm:c1")


def test_the_frozen_legacy_export_does_not_outvote_a_name_change() -> None:
    married = _golden(
        {"source": "crm", "source_record_id": "c1", "last_name": "Huff"},
        {"source": "marketing", "source_record_id": "m1", "last_name": "Wade"},
        {"source": "legacy", "source_record_id": "g1", "last_name": "Wade"},
    )
    only_legacy = _golden({"source": "legacy", "source_record_id": "g1", "last_name": "Wade"})

    assert (married["last_name"], married["last_name_source"]) == ("Huff", "crm:c1")
    assert (only_legacy["last_name"], only_legacy["last_name_source"]) == ("Wade", "legacy:g1")


def test_names_equally_frequent_go_to_the_most_trusted_source() -> None:
    golden = _golden(
        {"source": "legacy", "source_record_id": "g1", "first_name": "Kate"},
        {"source": "marketing", "source_record_id": "m1", "first_name": "Katie"},
        {"source": "clickstream", "source_record_id": "e1", "first_name": "Cate"},
    )

    assert (golden["first_name"], golden["first_name_source"]) == ("Katie", "marketing:m1")


def test_the_crm_email_beats_a_more_recent_and_more_frequent_order_email() -> None:
    golden = _golden(
        {"source": "crm", "source_record_id": "c1", "email": "ann@new.com", "observed_at": _day(1)},
        {
            "source": "orders",
            "source_record_id": "o1",
            "email": "ann@old.com",
            "observed_at": _day(9),
        },
        {
            "source": "orders",
            "source_record_id": "o2",
            "email": "ann@old.com",
            "observed_at": _day(8),
        },
    )

    assert (golden["email"], golden["email_source"]) == ("ann@new.com", "crm:c1")


def test_among_records_of_one_source_the_most_recent_email_wins() -> None:
    golden = _golden(
        {"source": "orders", "source_record_id": "o1", "email": "a@x.com", "observed_at": _day(2)},
        {"source": "orders", "source_record_id": "o2", "email": "b@x.com", "observed_at": _day(5)},
        {"source": "orders", "source_record_id": "o3", "email": "a@x.com", "observed_at": _day(3)},
        # Undated: counted oldest.
        {"source": "orders", "source_record_id": "o4", "email": "c@x.com"},
    )

    assert (golden["email"], golden["email_source"]) == ("b@x.com", "orders:o2")


def test_a_landline_on_one_record_loses_to_the_mobile_on_two() -> None:
    landline, mobile = "+442071234567", "+447700900123"
    golden = _golden(
        {"source": "crm", "source_record_id": "c1", "phone": landline, "observed_at": _day(9)},
        {"source": "tickets", "source_record_id": "t1", "phone": mobile, "observed_at": _day(4)},
        {"source": "orders", "source_record_id": "o1", "phone": mobile, "observed_at": _day(2)},
        {"source": "orders", "source_record_id": "o2", "phone": mobile, "observed_at": _day(3)},
    )

    # The most trusted record carrying the mobile, then the most recent of those.
    assert (golden["phone"], golden["phone_source"]) == (mobile, "orders:o2")


def test_the_address_is_the_most_recent_whole_address() -> None:
    golden = _golden(
        {
            "source": "crm",
            "source_record_id": "c1",
            "street": "1 New Road",
            "city": "Leeds",
            "postcode": "LS1 1AA",
            "country": "GB",
            "observed_at": _day(9),
        },
        {
            "source": "legacy",
            "source_record_id": "g1",
            "street": "2 Old Lane",
            "city": "York",
            "state": "North Yorkshire",
            "postcode": "YO1 1AA",
            "country": "GB",
            "observed_at": _day(1),
        },
        # Newer, but no street: not an address to take.
        {"source": "orders", "source_record_id": "o1", "city": "Bath", "observed_at": _day(10)},
    )

    address = {name: golden[name] for name in ("street", "city", "state", "postcode", "country")}
    # The state is the CRM record's (null), not filled in from the legacy one.
    assert address == {
        "street": "1 New Road",
        "city": "Leeds",
        "state": None,
        "postcode": "LS1 1AA",
        "country": "GB",
    }
    assert golden["address_source"] == "crm:c1"


def test_addresses_observed_at_once_go_to_the_most_trusted_source() -> None:
    golden = _golden(
        {
            "source": "orders",
            "source_record_id": "o1",
            "street": "3 Mill St",
            "observed_at": _day(5),
        },
        {
            "source": "loyalty",
            "source_record_id": "l1",
            "street": "4 Park Rd",
            "observed_at": _day(5),
        },
        {
            "source": "loyalty",
            "source_record_id": "l0",
            "street": "5 Bay Ave",
            "observed_at": _day(5),
        },
    )

    assert (golden["street"], golden["address_source"]) == ("5 Bay Ave", "loyalty:l0")


def test_an_attribute_no_record_has_is_null_with_no_source() -> None:
    golden = _golden(
        {"source": "clickstream", "source_record_id": "e1", "email": "z@x.com"},
        {"source": "clickstream", "source_record_id": "e2"},
    )

    for name in ("first_name", "last_name", "phone"):
        assert golden[name] is None
        assert golden[f"{name}_source"] is None
    assert golden["street"] is None
    assert golden["address_source"] is None
    assert (golden["email"], golden["email_source"]) == ("z@x.com", "clickstream:e1")


def test_one_row_per_customer_with_where_it_was_seen() -> None:
    golden = golden_records(
        _records(
            {
                "customer_key": 2,
                "source": "orders",
                "source_record_id": "o1",
                "observed_at": _day(4),
            },
            {"customer_key": 2, "source": "crm", "source_record_id": "c1", "observed_at": _day(2)},
            {"customer_key": 2, "source": "orders", "source_record_id": "o2"},
            {"customer_key": 1, "source": "tickets", "source_record_id": "t1", "first_name": "Al"},
        )
    )

    assert golden.columns == [
        "customer_key",
        "first_name",
        "first_name_source",
        "last_name",
        "last_name_source",
        "email",
        "email_source",
        "phone",
        "phone_source",
        "street",
        "city",
        "state",
        "postcode",
        "country",
        "address_source",
        "source_records",
        "sources",
        "first_seen_at",
        "last_seen_at",
    ]
    summary = golden.select(
        "customer_key", "first_name", "source_records", "sources", "first_seen_at", "last_seen_at"
    )
    assert summary.rows() == [
        (1, "Al", 1, "tickets", None, None),
        (2, None, 3, "crm,orders", _day(2), _day(4)),
    ]
    assert golden.schema["source_records"] == pl.Int64
    assert golden.schema["last_seen_at"] == pl.Datetime("us", "UTC")


def test_the_golden_record_does_not_depend_on_row_order() -> None:
    records = _records(
        *(
            {
                "customer_key": key,
                "source": source,
                "source_record_id": f"{source[0]}{key}{n}",
                "first_name": name,
                "email": f"{name.lower()}@x.com",
                "phone": f"+4477009000{n}",
                "street": f"{n} High St",
                "observed_at": _day(5),
            }
            for key in (1, 2)
            for n, (source, name) in enumerate([("crm", "Ann"), ("crm", "Anne"), ("orders", "Ana")])
        )
    )

    golden = golden_records(records)
    for seed in range(5):
        assert golden_records(records.sample(fraction=1.0, shuffle=True, seed=seed)).equals(golden)
    # Ties down to the last rule: Ann and Anne are both CRM's, equally recent; the CRM
    # addresses too.
    assert golden.select("first_name", "first_name_source", "street", "address_source").rows() == [
        ("Ann", "crm:c10", "0 High St", "crm:c10"),
        ("Ann", "crm:c20", "0 High St", "crm:c20"),
    ]


def test_a_source_without_a_trust_rank_is_refused() -> None:
    records = _records({"source": "fax", "source_record_id": "f1"})

    with pytest.raises(ValueError, match=r"unknown source\(s\) \['fax'\]"):
        golden_records(records)


def test_events_summed_up_count_as_the_events_listed_would() -> None:
    listed = [
        {"source": "crm", "source_record_id": "c1", "first_name": "Ann", "observed_at": _day(3)},
        {"customer_key": 2, "source": "orders", "source_record_id": "o2", "observed_at": _day(4)},
        *(
            {"customer_key": key, "source": "clickstream", "source_record_id": f"e{key}{day}"}
            | ({"observed_at": _day(day)} if day else {})
            for key, days in ((1, (1, 2, 5)), (2, (0,)), (3, (6, 7)))
            for day in days
        ),
    ]
    records = _records(*listed)
    events = records.filter(pl.col("source") == "clickstream")
    activity = events.group_by("customer_key", "source").agg(
        records=pl.len().cast(pl.Int64),
        first_seen_at=pl.col("observed_at").min(),
        last_seen_at=pl.col("observed_at").max(),
    )

    golden = golden_records(records.filter(pl.col("source") != "clickstream"), activity)

    assert golden.equals(golden_records(records))
    assert golden.select("customer_key", "source_records", "sources", "first_name").rows() == [
        (1, 4, "clickstream,crm", "Ann"),
        (2, 2, "clickstream,orders", None),
        (3, 2, "clickstream", None),
    ]
