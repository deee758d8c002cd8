"""Profiles: how each record reaches the profile identity resolution matches."""

from __future__ import annotations

from typing import Any

import polars as pl

from transforms.identity.profiles import ANONYMOUS_DEVICE, PROFILE_SCHEMA, attach
from transforms.identity.records import RECORD_SCHEMA


def _records(*rows: dict[str, Any]) -> pl.DataFrame:
    """Identity records; attributes a row does not name are null."""
    return pl.DataFrame(list(rows), schema=RECORD_SCHEMA)


def _attached(records: pl.DataFrame) -> dict[str, tuple[str, str | None]]:
    """ "source:source_record_id" -> (profile_id, attach_rule) of every record attached."""
    attached, _ = attach(records)
    assert attached.columns == ["source", "source_record_id", "profile_id", "attach_rule"]
    return {
        f"{source}:{record}": (profile, rule) for source, record, profile, rule in attached.rows()
    }


def _profiles(records: pl.DataFrame) -> dict[str, dict[str, Any]]:
    _, profiles = attach(records)
    assert profiles.schema == pl.Schema(PROFILE_SCHEMA)
    assert profiles["profile_id"].is_unique().all()
    return {row["profile_id"]: row for row in profiles.iter_rows(named=True)}


ANN = {
    "source": "crm",
    "source_record_id": "C00000001",
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann.lee1@gmail.com",
    "phone": "+15550000001",
}


def test_named_records_are_profiles_of_their_own() -> None:
    records = _records(
        ANN,
        {"source": "loyalty", "source_record_id": "L1", "first_name": "Ann"},
        {"source": "marketing", "source_record_id": "M1", "email": "ann.lee1@gmail.com"},
        {"source": "legacy", "source_record_id": "X1", "last_name": "Lee"},
    )

    assert _attached(records) == {
        "crm:C00000001": ("crm:C00000001", None),
        "legacy:X1": ("legacy:X1", None),
        "loyalty:L1": ("loyalty:L1", None),
        "marketing:M1": ("marketing:M1", None),
    }
    assert _profiles(records)["crm:C00000001"] == {
        "profile_id": "crm:C00000001",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann.lee1@gmail.com",
        "phone": "+15550000001",
    }


def test_orders_and_events_with_a_crm_customer_id_attach_to_that_customer() -> None:
    records = _records(
        ANN,
        # The order's own contact details are not what decides: the CRM id is.
        {
            "source": "orders",
            "source_record_id": "O000000001",
            "crm_ref": "C00000001",
            "email": "someone.else@gmail.com",
        },
        {
            "source": "clickstream",
            "source_record_id": "E1",
            "crm_ref": "C00000001",
            "device_id": "D1",
        },
    )

    attached = _attached(records)

    assert attached["orders:O000000001"] == ("crm:C00000001", "crm_id")
    assert attached["clickstream:E1"] == ("crm:C00000001", "crm_id")
    # Attached records add no profile of their own.
    assert list(_profiles(records)) == ["crm:C00000001"]


def test_a_crm_id_no_longer_in_the_crm_is_still_one_profile() -> None:
    records = _records(
        {"source": "orders", "source_record_id": "O1", "crm_ref": "C00000009"},
        {"source": "orders", "source_record_id": "O2", "crm_ref": "C00000009"},
    )

    assert set(_attached(records).values()) == {("crm:C00000009", "crm_id")}
    assert _profiles(records) == {
        "crm:C00000009": {
            "profile_id": "crm:C00000009",
            "first_name": None,
            "last_name": None,
            "email": None,
            "phone": None,
        }
    }


def test_anonymous_events_of_a_device_that_logged_in_attach_to_its_customer() -> None:
    records = _records(
        ANN,
        {"source": "clickstream", "source_record_id": "E1", "device_id": "D1"},
        {
            "source": "clickstream",
            "source_record_id": "E2",
            "device_id": "D1",
            "crm_ref": "C00000001",
        },
        {"source": "clickstream", "source_record_id": "E3", "device_id": "D1"},
    )

    attached = _attached(records)

    assert attached["clickstream:E1"] == ("crm:C00000001", "device_login")
    assert attached["clickstream:E2"] == ("crm:C00000001", "crm_id")
    assert attached["clickstream:E3"] == ("crm:C00000001", "device_login")


def test_the_events_of_a_device_that_never_logged_in_are_one_anonymous_visitor() -> None:
    records = _records(
        ANN,
        {"source": "clickstream", "source_record_id": "E1", "device_id": "D-anon"},
        {"source": "clickstream", "source_record_id": "E2", "device_id": "D-anon"},
        {"source": "clickstream", "source_record_id": "E3", "device_id": "D-other"},
    )

    attached = _attached(records)

    assert attached["clickstream:E1"] == ("device:D-anon", ANONYMOUS_DEVICE)
    assert attached["clickstream:E2"] == ("device:D-anon", ANONYMOUS_DEVICE)
    assert attached["clickstream:E3"] == ("device:D-other", ANONYMOUS_DEVICE)
    # A visitor profile has nothing to match on.
    profiles = _profiles(records)
    assert list(profiles) == ["crm:C00000001", "device:D-anon", "device:D-other"]
    assert set(profiles["device:D-anon"].values()) == {"device:D-anon", None}


def test_a_device_shared_by_two_customers_is_an_anonymous_visitor_when_logged_out() -> None:
    records = _records(
        {"source": "clickstream", "source_record_id": "E1", "device_id": "D1", "crm_ref": "C1"},
        {"source": "clickstream", "source_record_id": "E2", "device_id": "D1", "crm_ref": "C2"},
        {"source": "clickstream", "source_record_id": "E3", "device_id": "D1"},
    )

    attached = _attached(records)

    assert attached["clickstream:E1"] == ("crm:C1", "crm_id")
    assert attached["clickstream:E2"] == ("crm:C2", "crm_id")
    # Either of them, or a third person: not guessed.
    assert attached["clickstream:E3"] == ("device:D1", ANONYMOUS_DEVICE)


def test_a_ticket_quoting_an_order_attaches_to_that_orders_person() -> None:
    records = _records(
        ANN,
        {"source": "orders", "source_record_id": "O000000123", "crm_ref": "C00000001"},
        # Sent from another mailbox: the order number still says whose it is.
        {
            "source": "tickets",
            "source_record_id": "T1",
            "email": "work.address@corp.example",
            "order_ref": "O000000123",
        },
    )

    assert _attached(records)["tickets:T1"] == ("crm:C00000001", "order_reference")


def test_a_ticket_quoting_a_guest_order_joins_the_guests_contact_profile() -> None:
    guest = {"email": "guest.one7@yahoo.com", "phone": "+15550000007"}
    records = _records(
        {"source": "orders", "source_record_id": "O000000777", **guest},
        {"source": "tickets", "source_record_id": "T1", "order_ref": "O000000777"},
    )

    attached = _attached(records)

    profile = "contact:guest.one7@yahoo.com|+15550000007"
    assert attached["orders:O000000777"] == (profile, None)
    assert attached["tickets:T1"] == (profile, "order_reference")


def test_a_ticket_quoting_an_unknown_order_falls_back_to_its_email() -> None:
    records = _records(
        {
            "source": "tickets",
            "source_record_id": "T1",
            "email": "ann.lee1@gmail.com",
            "order_ref": "O000000999",
        },
        {"source": "tickets", "source_record_id": "T2", "order_ref": "O000000999"},
    )

    attached = _attached(records)

    assert attached["tickets:T1"] == ("contact:ann.lee1@gmail.com|", None)
    assert "tickets:T2" not in attached


def test_guest_orders_and_tickets_with_the_same_contact_share_one_profile() -> None:
    contact = {"email": "guest.two8@icloud.com", "phone": "+15550000008"}
    records = _records(
        {"source": "orders", "source_record_id": "O1", **contact},
        {"source": "orders", "source_record_id": "O2", **contact},
        {"source": "tickets", "source_record_id": "T1", "email": "guest.two8@icloud.com"},
        {"source": "orders", "source_record_id": "O3", "phone": "+15550000008"},
    )

    attached = _attached(records)

    shared = "contact:guest.two8@icloud.com|+15550000008"
    assert attached["orders:O1"] == attached["orders:O2"] == (shared, None)
    assert attached["tickets:T1"] == ("contact:guest.two8@icloud.com|", None)
    assert attached["orders:O3"] == ("contact:|+15550000008", None)
    assert _profiles(records)[shared] == {
        "profile_id": shared,
        "first_name": None,
        "last_name": None,
        "email": "guest.two8@icloud.com",
        "phone": "+15550000008",
    }


def test_a_record_with_nothing_to_go_on_has_no_profile() -> None:
    records = _records(
        {"source": "tickets", "source_record_id": "T1"},
        {"source": "orders", "source_record_id": "O1"},
        {"source": "clickstream", "source_record_id": "E1"},
    )

    attached, profiles = attach(records)

    assert attached.is_empty()
    assert profiles.is_empty()
