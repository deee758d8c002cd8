"""The hidden population: seeded, unique identities, well-formed attributes, households, and
the life events that change them day by day."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from simulator import population
from simulator.population import EMAIL_DOMAINS, HOUSEHOLD_SIZES, generate_people, live_day

PEOPLE = 2_000
# The attributes every source derives its records from.
IDENTITY = ["person_id", "first_name", "last_name", "email", "phone", "birth_date"]


def test_same_seed_gives_the_same_people() -> None:
    assert generate_people(PEOPLE, seed=7).equals(generate_people(PEOPLE, seed=7))


def test_another_seed_gives_other_people() -> None:
    first, other = generate_people(PEOPLE, seed=7), generate_people(PEOPLE, seed=8)

    # Ids are positional; everything drawn from the seed differs.
    assert first["person_id"].equals(other["person_id"])
    for column in ("first_name", "last_name", "email", "phone", "birth_date"):
        assert not first[column].equals(other[column]), column


def test_people_have_unique_ids_and_emails() -> None:
    people = generate_people(PEOPLE, seed=7)

    assert set(IDENTITY) <= set(people.columns)
    assert people.height == PEOPLE
    assert people["person_id"].n_unique() == PEOPLE
    assert people["email"].n_unique() == PEOPLE
    assert people.select(IDENTITY).null_count().sum_horizontal().item() == 0


def test_attributes_are_well_formed() -> None:
    people = generate_people(PEOPLE, seed=7)

    assert people["person_id"].head(3).to_list() == ["P0000001", "P0000002", "P0000003"]
    assert people["phone"].str.contains(r"^\+1[2-9]\d{9}$").all()
    domains = people["email"].str.split("@").list.last()
    assert set(domains.unique()) <= set(EMAIL_DOMAINS)
    assert people["email"].str.contains(r"^[a-z]+\.[a-z]+\d+@").all()
    assert people["birth_date"].is_between(date(1936, 1, 1), date(2008, 12, 31)).all()


# --- households ---------------------------------------------------------------------------

HOME = ["street", "city", "state", "postcode", "country", "home_phone"]


def test_households_share_an_address_and_a_landline() -> None:
    people = generate_people(PEOPLE, seed=7)

    households = people.group_by("household_id").agg(
        pl.len().alias("size"),
        *[pl.col(c).n_unique() for c in HOME],
        pl.col("last_name").n_unique().alias("last_names"),
    )
    for column in HOME:
        assert (households[column] == 1).all(), column
    assert set(households["size"]) == set(HOUSEHOLD_SIZES)
    assert (households["size"] > 1).sum() > 0.3 * households.height
    # About half the households have a landline, shared by everyone living there.
    landlines = people.unique("household_id")["home_phone"]
    assert 0.4 < landlines.is_not_null().mean() < 0.6  # type: ignore[operator]
    assert people["home_phone"].drop_nulls().str.contains(r"^\+1\d{10}$").all()
    # Most households share a last name, but not all of them.
    shared = households.filter(pl.col("size") > 1)
    assert 0.4 < (shared["last_names"] == 1).mean() < 1.0  # type: ignore[operator]
    # Different households live at different addresses.
    assert people.unique("household_id")["street"].n_unique() > 0.95 * households.height


# --- one day of life ---------------------------------------------------------------------

BUSY_RATES = {"move": 0.05, "new_email": 0.05, "name_change": 0.05, "churn": 0.05}
UNCHANGING = ["person_id", "household_id", "first_name", "phone", "home_phone", "birth_date"]


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Life-event rates high enough that 2,000 people see every kind of event in a day."""
    for event, rate in BUSY_RATES.items():
        monkeypatch.setitem(population.DAILY_RATES, event, rate)


def _live(people: pl.DataFrame, day: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    return live_day(people, np.random.default_rng([7, day]), seed=7)


def _persons(events: pl.DataFrame, event: str) -> set[str]:
    return set(events.filter(pl.col("event") == event)["person_id"])


def _changed(before: pl.DataFrame, after: pl.DataFrame, columns: list[str]) -> set[str]:
    joined = before.join(after, on="person_id", suffix="_after")
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_after")) for c in columns])
    return set(joined.filter(differs)["person_id"])


def test_a_day_is_reproducible() -> None:
    people = generate_people(PEOPLE, seed=7)

    first, second = _live(people, 1), _live(people, 1)

    assert first[0].equals(second[0])
    assert first[1].equals(second[1])
    assert first[0].columns == people.columns


@pytest.mark.usefixtures("busy")
def test_events_match_the_changed_attributes() -> None:
    people = generate_people(PEOPLE, seed=7)

    after, events = _live(people, 1)

    assert after.select(UNCHANGING).equals(people.select(UNCHANGING))
    assert set(events["event"]) == {"move", "new_email", "name_change", "churn"}
    assert events.columns == ["person_id", "event"]
    assert events.is_unique().all()
    for event, columns in (
        ("move", ["street", "city", "state", "postcode"]),
        ("new_email", ["email"]),
        ("name_change", ["last_name"]),
        ("churn", ["is_churned"]),
    ):
        persons = _persons(events, event)
        assert len(persons) > 20, event
        assert _changed(people, after, columns) == persons, event
    # A new email is still a well-formed, unique mailbox.
    assert after["email"].n_unique() == PEOPLE
    assert after["email"].str.contains(r"^[a-z]+\.[a-z]+\d+@").all()


@pytest.mark.usefixtures("busy")
def test_whole_households_move_together() -> None:
    people = generate_people(PEOPLE, seed=7)

    after, events = _live(people, 1)

    movers = people.filter(pl.col("person_id").is_in(list(_persons(events, "move"))))
    moved_households = set(movers["household_id"])
    # Everyone in a household that moved has a move event, and they all live together still.
    everyone = people.filter(pl.col("household_id").is_in(list(moved_households)))
    assert set(everyone["person_id"]) == set(movers["person_id"])
    homes = after.group_by("household_id").agg(pl.col(["street", "city"]).n_unique())
    assert (homes["street"] == 1).all()
    assert (homes["city"] == 1).all()
    assert movers.height > len(moved_households)  # some households have several members


@pytest.mark.usefixtures("busy")
def test_churn_is_sticky() -> None:
    people = generate_people(PEOPLE, seed=7)

    day1, events1 = _live(people, 1)
    day2, events2 = _live(day1, 2)

    churned1, churned2 = _persons(events1, "churn"), _persons(events2, "churn")
    assert set(day1.filter("is_churned")["person_id"]) == churned1
    assert set(day2.filter("is_churned")["person_id"]) == churned1 | churned2
    assert churned2
    # Nobody churns twice.
    assert not churned1 & churned2


def test_a_name_change_always_gives_another_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(population.DAILY_RATES, "name_change", 1.0)
    people = generate_people(PEOPLE, seed=7)

    after, events = _live(people, 1)

    # Drawn from a pool of a few hundred names, some draws hit the current one.
    assert _persons(events, "name_change") == set(people["person_id"])
    assert (after["last_name"] != people["last_name"]).all()
