"""Identity resolution end to end on hand-made cases among a synthetic population.

Splink trains on each run's own data, so the hand-made records sit among a few hundred
synthetic people (households, shared landlines, typos, guest orders) for it to learn from;
the assertions are about the hand-made records only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest

from simulator.noise import typo
from transforms.identity.profiles import ANONYMOUS_DEVICE
from transforms.identity.records import RECORD_SCHEMA, identity_records
from transforms.identity.resolve import (
    XREF_SCHEMA,
    Resolution,
    cluster_records,
    resolve_identities,
)

BACKGROUND_PEOPLE = 400
SEED = 11
SYLLABLES = tuple(consonant + vowel for consonant in "bdgklmnrstvz" for vowel in "aeiou")
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")
OBSERVED_AT = datetime(2026, 3, 1, tzinfo=UTC)

LANDLINE = "+15550009100"
ORDER = "O000000123"


def _name(rng: np.random.Generator, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES, syllables)).capitalize()


def _people(rng: np.random.Generator) -> list[dict[str, Any]]:
    """Synthetic people in households that mostly share a last name and, half of them, a
    landline; emails are unique (first.last + number), as mailboxes are."""
    people: list[dict[str, Any]] = []
    household_last, landline = "", None
    for n in range(1, BACKGROUND_PEOPLE + 1):
        if n == 1 or rng.random() < 0.6:  # a new household
            household_last = _name(rng, 3)
            number = f"+1{rng.integers(2_010_000_000, 9_899_999_999)}"
            landline = number if rng.random() < 0.5 else None
        first = _name(rng, 2)
        last = household_last if rng.random() < 0.8 else _name(rng, 3)
        people.append(
            {
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}.{last.lower()}{n}@{rng.choice(DOMAINS)}",
                "phone": f"+1{rng.integers(2_010_000_000, 9_899_999_999)}",
                "landline": landline,
            }
        )
    return people


def _background(rng: np.random.Generator) -> pl.DataFrame:
    """Records of `BACKGROUND_PEOPLE` synthetic people, as the sources would show them.

    Every person is in the CRM (a few twice), some also in loyalty, marketing, legacy (with
    the landline where there is one) and guest orders (now and then with the landline);
    names and emails carry typos, never in the first letter.
    """
    records: list[dict[str, Any]] = []

    def add(source: str, person: dict[str, Any], typos: tuple[float, float], **kw: Any) -> None:
        first, last = typo([person["first_name"], person["last_name"]], rng, typos[0])
        (email,) = typo([person["email"]], rng, typos[1])
        seen = {"first_name": first, "last_name": last, "email": email, "phone": person["phone"]}
        records.append(seen | kw | _case(source, f"bg-{len(records)}"))

    for person in _people(rng):
        add("crm", person, (0.03, 0.0))
        if rng.random() < 0.05:
            add("crm", person, (0.03, 0.5))
        if rng.random() < 0.5:
            add("loyalty", person, (0.03, 0.05))
        if rng.random() < 0.5:
            add("marketing", person, (0.03, 0.1))
        if rng.random() < 0.3:
            add("legacy", person, (0.03, 0.03), phone=person["landline"] or person["phone"])
        if rng.random() < 0.3:
            home = person["landline"] is not None and rng.random() < 0.15
            phone = person["landline"] if home else person["phone"]
            add("orders", person, (0.0, 0.03), first_name=None, last_name=None, phone=phone)
    return pl.DataFrame(records, schema=RECORD_SCHEMA)


def _case(source: str, record: str, **attributes: Any) -> dict[str, Any]:
    return {"source": source, "source_record_id": record, "observed_at": OBSERVED_AT} | attributes


CASES = [
    # A typo in the name and in the email, the same phone: one person, by Splink alone.
    _case(
        "crm",
        "typo-1",
        first_name="Jonathan",
        last_name="Smith",
        email="jonathan.smith9001@gmail.com",
        phone="+15550009001",
    ),
    _case(
        "loyalty",
        "typo-2",
        first_name="Jonathon",
        last_name="Smith",
        email="jonathan.smth9001@gmail.com",
        phone="+15550009001",
    ),
    # A household landline: Maria and Antonio Carney are two people.
    _case(
        "crm",
        "maria",
        first_name="Maria",
        last_name="Carney",
        email="maria.carney9002@yahoo.com",
        phone=LANDLINE,
    ),
    _case(
        "loyalty",
        "antonio",
        first_name="Antonio",
        last_name="Carney",
        email="antonio.carney9003@gmail.com",
        phone=LANDLINE,
    ),
    # A guest who gave only the landline and a mailbox with Antonio's initial.
    _case("orders", "guest-antonio", email="antonio.c9004@outlook.com", phone=LANDLINE),
    # A family mailbox: John and Mary Smithers are two people.
    _case(
        "crm",
        "john",
        first_name="John",
        last_name="Smithers",
        email="the.smithers9006@gmail.com",
        phone="+15550009061",
    ),
    _case(
        "loyalty",
        "mary",
        first_name="Mary",
        last_name="Smithers",
        email="the.smithers9006@gmail.com",
        phone="+15550009062",
    ),
    # Nobody else looks like Zebulon.
    _case("legacy", "hermit", first_name="Zebulon", last_name="Quixote"),
    # One email, compatible names: one person by the exact rule.
    _case(
        "crm",
        "grace-1",
        first_name="Grace",
        last_name="Hopper",
        email="grace.hopper9005@proton.me",
        phone="+15550009005",
    ),
    _case(
        "marketing",
        "grace-2",
        first_name="Grace",
        last_name="Hoper",
        email="grace.hopper9005@proton.me",
    ),
    # An order and events of Grace's CRM record; a device she logged in on; one nobody did.
    _case("orders", ORDER, crm_ref="grace-1", email="grace.hopper9005@proton.me"),
    _case("clickstream", "e-login", crm_ref="grace-1", device_id="d-grace"),
    _case("clickstream", "e-anonymous", device_id="d-grace"),
    _case("clickstream", "e-stranger-1", device_id="d-stranger"),
    _case("clickstream", "e-stranger-2", device_id="d-stranger"),
]

# Staged tickets: one quoting Grace's order from another mailbox, one saying nothing.
TICKETS = pl.DataFrame(
    {
        "ticket_id": ["t-order", "t-silent"],
        "created_at": [OBSERVED_AT, OBSERVED_AT],
        "customer_email": ["help.desk.user@corp.example", None],
        "body": [f"Where is my order #{ORDER}? It is late.", "Call me back."],
    }
)


def synthetic_records() -> pl.DataFrame:
    """The synthetic population with the hand-made cases among it."""
    return pl.concat(
        [
            _background(np.random.default_rng(SEED)),
            pl.DataFrame(CASES, schema=RECORD_SCHEMA),
            identity_records({"support_tickets": TICKETS}),
        ]
    )


@pytest.fixture(scope="module")
def records() -> pl.DataFrame:
    return synthetic_records()


@pytest.fixture(scope="module")
def clustered(records: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """ "source:source_record_id" -> the record's row of `cluster_records`."""
    result = cluster_records(records)
    assert result["source_record_id"].is_unique().all()
    return {
        f"{row['source']}:{row['source_record_id']}": row for row in result.iter_rows(named=True)
    }


@pytest.fixture(scope="module")
def resolution(records: pl.DataFrame) -> Resolution:
    return resolve_identities(records, pl.DataFrame(schema=XREF_SCHEMA), next_key=1)


def _cluster(clustered: dict[str, dict[str, Any]], record: str) -> int:
    return int(clustered[record]["cluster_id"])


def test_typos_in_the_name_and_email_with_the_same_phone_are_one_person(
    clustered: dict[str, dict[str, Any]],
) -> None:
    assert _cluster(clustered, "crm:typo-1") == _cluster(clustered, "loyalty:typo-2")
    for record in ("crm:typo-1", "loyalty:typo-2"):
        assert clustered[record]["match_rule"] == "splink"
        assert clustered[record]["match_probability"] >= 0.99


def test_a_household_landline_does_not_make_two_people_one(
    clustered: dict[str, dict[str, Any]],
) -> None:
    assert _cluster(clustered, "crm:maria") != _cluster(clustered, "loyalty:antonio")


def test_a_guest_with_the_landline_and_another_initial_is_not_the_other_member(
    clustered: dict[str, dict[str, Any]],
) -> None:
    assert _cluster(clustered, "orders:guest-antonio") != _cluster(clustered, "crm:maria")


def test_a_family_mailbox_does_not_make_two_people_one(
    clustered: dict[str, dict[str, Any]],
) -> None:
    assert _cluster(clustered, "crm:john") != _cluster(clustered, "loyalty:mary")


def test_one_email_with_compatible_names_is_one_person_by_the_exact_rule(
    clustered: dict[str, dict[str, Any]],
) -> None:
    assert _cluster(clustered, "crm:grace-1") == _cluster(clustered, "marketing:grace-2")
    assert clustered["marketing:grace-2"]["match_rule"] == "exact_email"
    assert clustered["marketing:grace-2"]["match_probability"] == 1.0


def test_records_attached_by_reference_carry_their_rule(
    clustered: dict[str, dict[str, Any]],
) -> None:
    grace = _cluster(clustered, "crm:grace-1")
    expected = {
        f"orders:{ORDER}": "crm_id",
        "clickstream:e-login": "crm_id",
        "clickstream:e-anonymous": "device_login",
        "tickets:t-order": "order_reference",
    }

    for record, rule in expected.items():
        assert (_cluster(clustered, record), clustered[record]["match_rule"]) == (grace, rule)
        assert clustered[record]["match_probability"] == 1.0


def test_a_device_that_never_logged_in_is_one_anonymous_visitor_and_nobody_else(
    clustered: dict[str, dict[str, Any]],
) -> None:
    visitor = _cluster(clustered, "clickstream:e-stranger-1")

    assert _cluster(clustered, "clickstream:e-stranger-2") == visitor
    members = {r for r, row in clustered.items() if row["cluster_id"] == visitor}
    assert members == {"clickstream:e-stranger-1", "clickstream:e-stranger-2"}
    assert {clustered[r]["match_rule"] for r in members} == {ANONYMOUS_DEVICE}


def test_a_record_with_nothing_to_go_on_has_no_identity_and_is_counted(
    clustered: dict[str, dict[str, Any]], resolution: Resolution
) -> None:
    assert "tickets:t-silent" not in clustered
    assert resolution.unresolved.rows() == [("tickets", "t-silent")]


def test_a_record_alone_is_unmatched_without_a_probability(
    clustered: dict[str, dict[str, Any]],
) -> None:
    hermit = clustered["legacy:hermit"]

    assert (hermit["match_rule"], hermit["match_probability"]) == ("unmatched", None)
    assert [r for r, row in clustered.items() if row["cluster_id"] == hermit["cluster_id"]] == [
        "legacy:hermit"
    ]


def test_resolution_gives_every_record_with_an_identity_one_key_and_golden_record(
    records: pl.DataFrame, clustered: dict[str, dict[str, Any]], resolution: Resolution
) -> None:
    xref = resolution.xref

    assert xref.schema == pl.Schema(XREF_SCHEMA)
    assert sorted(xref["source"] + ":" + xref["source_record_id"]) == sorted(clustered)
    assert xref.height == records.height - resolution.unresolved.height
    assert sorted(resolution.golden["customer_key"]) == sorted(xref["customer_key"].unique())
    # The same persons as the clustering, whatever their labels.
    keys = dict(
        zip(xref["source"] + ":" + xref["source_record_id"], xref["customer_key"], strict=True)
    )
    pairs = {(clustered[r]["cluster_id"], k) for r, k in keys.items()}
    assert len(pairs) == len({c for c, _ in pairs}) == len({k for _, k in pairs})
    assert resolution.history.is_empty()


def test_resolving_again_keeps_every_key(records: pl.DataFrame, resolution: Resolution) -> None:
    again = resolve_identities(
        records,
        resolution.xref,
        next_key=resolution.xref.select(pl.col("customer_key").max()).item() + 1,
    )

    assert again.xref.equals(resolution.xref)
    assert again.history.is_empty()
    assert again.golden.equals(resolution.golden)


def test_the_golden_record_of_a_typod_person_has_the_crm_values(
    resolution: Resolution,
) -> None:
    xref = resolution.xref
    key = xref.filter(pl.col("source_record_id") == "typo-1")["customer_key"].item()

    golden = resolution.golden.filter(pl.col("customer_key") == key).row(0, named=True)

    assert golden["email"] == "jonathan.smith9001@gmail.com"
    assert golden["email_source"] == "crm:typo-1"
    assert golden["phone"] == "+15550009001"
    assert golden["sources"] == "crm,loyalty"


def test_the_same_records_in_another_order_resolve_to_the_same_keys(
    records: pl.DataFrame, resolution: Resolution
) -> None:
    # Reproducible: Splink trains with a fixed seed, clusters and keys are numbered by
    # their smallest record, so row order (and the run) changes nothing.
    shuffled = records.sample(fraction=1.0, shuffle=True, seed=7)

    again = resolve_identities(shuffled, pl.DataFrame(schema=XREF_SCHEMA), next_key=1)

    # (DuckDB's threads may sum EM's floats in another order: probabilities to 1e-9.)
    assert again.xref.drop("match_probability").equals(resolution.xref.drop("match_probability"))
    difference = (again.xref["match_probability"] - resolution.xref["match_probability"]).abs()
    assert (difference.fill_null(0) < 1e-9).all()
    assert again.golden.equals(resolution.golden)
