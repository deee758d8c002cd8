"""Staging the CRM's customers: raw CDC history to clean current state."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from catalog.tables import staging
from tests.transforms.frames import empty
from transforms.polars.crm_customers import STAGED_COLUMNS, stage_crm_customers

RAW_SCHEMA = {
    "customer_id": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "street": pl.String,
    "city": pl.String,
    "state": pl.String,
    "postcode": pl.String,
    "country": pl.String,
    "signup_date": pl.Date,
    "lifetime_value": pl.Float64,
    "is_active": pl.Boolean,
    "updated_at": pl.Datetime("us", "UTC"),
    "_cdc_operation": pl.String,
    "_source_committed_at": pl.Datetime("us", "UTC"),
    "_ingested_at": pl.Datetime("us", "UTC"),
    "_batch_id": pl.String,
}


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _version(
    customer_id: str,
    *,
    updated: datetime | None,
    ingested: datetime,
    operation: str = "insert",
    email: str | None = "ada@example.com",
    phone: str | None = "555-123-4567",
    first_name: str = "Ada",
    street: str = "12 Oak St",
    city: str = "Salem",
    value: float = 10.0,
) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "first_name": first_name,
        "last_name": "Lovelace",
        "email": email,
        "phone": phone,
        "street": street,
        "city": city,
        "state": "MA",
        "postcode": "01970",
        "country": "US",
        "signup_date": date(2025, 6, 1),
        "lifetime_value": value,
        "is_active": True,
        "updated_at": updated,
        "_cdc_operation": operation,
        "_source_committed_at": updated,
        "_ingested_at": ingested,
        "_batch_id": f"b-{ingested:%d%H}",
    }


def _stage(*versions: dict[str, object]) -> pl.DataFrame:
    return stage_crm_customers(
        empty(staging.CRM_CUSTOMERS), pl.LazyFrame(list(versions), schema=RAW_SCHEMA)
    ).collect()


def test_each_live_customer_once_in_its_latest_normalised_state() -> None:
    staged = _stage(
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
            # A move, typed with stray spaces.
            street=" 7   Elm  Rd ",
            city="  North Andover ",
            value=2.5,
        ),
    )

    assert staged.columns == STAGED_COLUMNS
    assert staged.to_dicts() == [
        {
            "customer_id": "C1",
            "first_name": "Ada Augusta",
            "last_name": "Lovelace",
            "email": "ada.l@example.com",
            "phone": "+15551234567",
            "street": "7 Elm Rd",
            "city": "North Andover",
            "state": "MA",
            "postcode": "01970",
            "country": "US",
            "signup_date": date(2025, 6, 1),
            "lifetime_value": 2.5,
            "is_active": True,
            "updated_at": _at(3),
        },
        {
            "customer_id": "C2",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+15559876543",
            "street": "12 Oak St",
            "city": "Salem",
            "state": "MA",
            "postcode": "01970",
            "country": "US",
            "signup_date": date(2025, 6, 1),
            "lifetime_value": 10.0,
            "is_active": True,
            "updated_at": _at(1),
        },
    ]


def test_deleted_customers_are_dropped() -> None:
    staged = _stage(
        _version("C1", updated=_at(1), ingested=_at(2)),
        _version("C2", updated=_at(1), ingested=_at(2)),
        _version("C2", updated=_at(5), ingested=_at(6), operation="delete"),
    )

    assert staged["customer_id"].to_list() == ["C1"]


def test_a_delete_without_a_source_timestamp_still_deletes() -> None:
    staged = _stage(
        _version("C1", updated=_at(1), ingested=_at(2)),
        _version("C1", updated=None, ingested=_at(6), operation="delete"),
    )

    assert staged.is_empty()


def test_the_later_capture_wins_even_with_an_older_source_timestamp() -> None:
    # A late commit under a skewed clock: captured later, stamped earlier.
    staged = _stage(
        _version("C1", updated=_at(3), ingested=_at(4), email="first@example.com"),
        _version("C1", updated=_at(2), ingested=_at(5), email="late@example.com"),
    )

    assert staged["email"].to_list() == ["late@example.com"]


def test_a_source_timestamp_tie_goes_to_the_later_capture() -> None:
    staged = _stage(
        _version("C1", updated=_at(3), ingested=_at(5), email="second@example.com"),
        _version("C1", updated=_at(3), ingested=_at(4), email="first@example.com"),
    )

    assert staged["email"].to_list() == ["second@example.com"]


def test_empty_and_garbage_contacts_become_null() -> None:
    staged = _stage(_version("C1", updated=_at(1), ingested=_at(2), email="  ", phone="unknown"))

    assert staged.select("email", "phone").row(0) == (None, None)


def test_output_is_sorted_by_customer_id() -> None:
    ids = ["C3", "C1", "C2"]
    staged = _stage(*(_version(i, updated=_at(1), ingested=_at(2)) for i in ids))

    assert staged["customer_id"].to_list() == sorted(ids)


def test_countries_become_iso_codes() -> None:
    written = {"C1": " united states ", "C2": "U.S.A.", "C3": "Narnia", "C4": "us"}
    versions = [
        _version(key, updated=_at(1), ingested=_at(2)) | {"country": country}
        for key, country in written.items()
    ]

    staged = _stage(*versions)

    assert dict(zip(staged["customer_id"], staged["country"], strict=True)) == {
        "C1": "US",
        "C2": "US",
        "C3": None,
        "C4": "US",
    }
