"""The hidden population: seeded, unique identities, well-formed attributes."""

from __future__ import annotations

from datetime import date

from simulator.population import EMAIL_DOMAINS, generate_people

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
