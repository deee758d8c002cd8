"""Deterministic rules: which shared emails and phones link profiles, and which do not."""

from __future__ import annotations

from typing import Any

import polars as pl

from transforms.identity.profiles import attach
from transforms.identity.records import RECORD_SCHEMA
from transforms.identity.rules import EDGE_SCHEMA, deterministic_edges, shared_value_edges

LANDLINE = "+15550000200"


def _records(*rows: dict[str, Any]) -> pl.DataFrame:
    """Identity records; attributes a row does not name are null."""
    return pl.DataFrame(list(rows), schema=RECORD_SCHEMA)


def _edges(*rows: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The deterministic edges between the profiles of `rows`, as (left, right, rule)."""
    _, profiles = attach(_records(*rows))
    edges = deterministic_edges(profiles)
    assert edges.schema == pl.Schema(EDGE_SCHEMA)
    assert (edges["match_probability"] == 1.0).all()
    return {(left, right, rule) for left, right, rule, _ in edges.rows()}


def _person(source: str, record: str, first: str | None, last: str | None, **rest: Any) -> dict:
    return {
        "source": source,
        "source_record_id": record,
        "first_name": first,
        "last_name": last,
        **rest,
    }


def test_a_family_mailbox_does_not_merge_two_people() -> None:
    mailbox = "the.smiths@gmail.com"
    edges = _edges(
        _person("crm", "C1", "John", "Smith", email=mailbox, phone="+15550000101"),
        _person("loyalty", "L1", "Mary", "Smith", email=mailbox, phone="+15550000102"),
    )

    assert edges == set()


def test_one_email_with_compatible_names_is_one_person() -> None:
    email = "jonathan.smith77@gmail.com"
    edges = _edges(
        _person("crm", "C1", "Jonathan", "Smith", email=email),
        _person("loyalty", "L1", "Jon", "Smith", email=email),
        # Initials are compared case-blind, and a record without a name does not object.
        _person("marketing", "M1", "jonathan", None, email=email),
        _person("legacy", "X1", None, None, email=email),
        {"source": "orders", "source_record_id": "O1", "email": email},
    )

    # A star to the smallest profile id of the group.
    assert edges == {
        ("contact:jonathan.smith77@gmail.com|", "crm:C1", "exact_email"),
        ("contact:jonathan.smith77@gmail.com|", "legacy:X1", "exact_email"),
        ("contact:jonathan.smith77@gmail.com|", "loyalty:L1", "exact_email"),
        ("contact:jonathan.smith77@gmail.com|", "marketing:M1", "exact_email"),
    }


def test_one_phone_with_one_email_and_compatible_names_is_one_person() -> None:
    edges = _edges(
        _person("crm", "C1", "Priya", "Raman", email="priya.raman5@proton.me", phone=LANDLINE),
        _person("marketing", "M1", "Priya", "Ramen", phone=LANDLINE),
        _person("legacy", "X1", "Priya", "Raman", email="priya.raman5@proton.me", phone=LANDLINE),
    )

    assert ("crm:C1", "marketing:M1", "exact_phone") in edges
    assert ("crm:C1", "legacy:X1", "exact_phone") in edges
    assert ("crm:C1", "legacy:X1", "exact_email") in edges


def test_a_household_landline_does_not_merge_two_people() -> None:
    edges = _edges(
        _person("crm", "C1", "Maria", "Carney", email="maria.carney5@gmail.com", phone=LANDLINE),
        _person(
            "loyalty", "L1", "Antonio", "Carney", email="antonio.carney6@yahoo.com", phone=LANDLINE
        ),
    )

    assert edges == set()


def test_a_landline_given_with_two_emails_is_unsafe_even_with_one_initial() -> None:
    # Jane and John: the same initial, but two mailboxes say two people.
    edges = _edges(
        _person("crm", "C1", "Jane", "Carney", email="jane.carney7@gmail.com", phone=LANDLINE),
        _person("crm", "C2", "John", "Carney", email="john.carney8@gmail.com", phone=LANDLINE),
    )

    assert edges == set()


def test_a_guest_with_the_landline_and_another_initials_email_is_not_the_named_member() -> None:
    # Maria gave the landline and no email; Antonio checked out as a guest with the same
    # landline: one email only, but its initial is not Maria's.
    edges = _edges(
        _person("crm", "C1", "Maria", "Carney", phone=LANDLINE),
        {
            "source": "orders",
            "source_record_id": "O1",
            "email": "antonio.c@outlook.com",
            "phone": LANDLINE,
        },
    )

    assert edges == set()


def test_a_guest_with_the_landline_and_the_same_initials_email_is_the_named_member() -> None:
    edges = _edges(
        _person("crm", "C1", "Maria", "Carney", phone=LANDLINE),
        {
            "source": "orders",
            "source_record_id": "O1",
            "email": "maria.c@outlook.com",
            "phone": LANDLINE,
        },
    )

    assert edges == {("contact:maria.c@outlook.com|+15550000200", "crm:C1", "exact_phone")}


def test_shared_value_edges_can_ignore_the_email_count() -> None:
    profiles = pl.DataFrame(
        {
            "profile_id": ["a", "b", "c", "d"],
            "first_name": ["Jane", "John", None, "Ann"],
            "email": ["jane@x.com", "john@x.com", None, None],
            "phone": [LANDLINE, LANDLINE, LANDLINE, None],
        }
    )

    unlimited = shared_value_edges(profiles, "phone", "exact_phone")
    limited = shared_value_edges(profiles, "phone", "exact_phone", max_emails=1)

    assert sorted(unlimited.select("profile_id_l", "profile_id_r").rows()) == [
        ("a", "b"),
        ("a", "c"),
    ]
    assert limited.is_empty()
