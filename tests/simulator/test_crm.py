"""The CRM's customers: a seeded share of the people, with the CRM's own messy typing."""

from __future__ import annotations

import polars as pl
import pytest

from simulator.clock import day_start
from simulator.crm import CRM_SHARE, crm_customers
from simulator.population import generate_people
from transforms import normalise

PEOPLE = 2_000
COLUMNS = [
    "customer_id",
    "person_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "signup_date",
    "lifetime_value",
    "is_active",
    "updated_at",
]


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return generate_people(PEOPLE, seed=11)


@pytest.fixture(scope="module")
def customers(people: pl.DataFrame) -> pl.DataFrame:
    return crm_customers(people, seed=11)


def test_same_seed_gives_the_same_customers(people: pl.DataFrame, customers: pl.DataFrame) -> None:
    assert crm_customers(people, seed=11).equals(customers)


def test_another_seed_gives_other_customers(people: pl.DataFrame, customers: pl.DataFrame) -> None:
    other = crm_customers(people, seed=12)

    assert not other["person_id"].equals(customers["person_id"])
    assert not other["lifetime_value"].equals(customers["lifetime_value"])


def test_columns_and_types(customers: pl.DataFrame) -> None:
    assert customers.columns == COLUMNS
    assert customers.schema["signup_date"] == pl.Date
    assert customers.schema["lifetime_value"] == pl.Float64
    assert customers.schema["is_active"] == pl.Boolean
    assert customers.schema["updated_at"] == pl.Datetime("us", "UTC")


def test_a_share_of_people_become_customers(people: pl.DataFrame, customers: pl.DataFrame) -> None:
    # Binomial(2000, 0.85): the standard deviation of the share is 0.008.
    assert customers.height / PEOPLE == pytest.approx(CRM_SHARE, abs=0.03)
    assert customers["customer_id"].n_unique() == customers.height
    assert customers["person_id"].n_unique() == customers.height
    assert set(customers["person_id"]) <= set(people["person_id"])
    assert customers["customer_id"].head(2).to_list() == ["C00000001", "C00000002"]


def test_customers_are_the_people_as_the_crm_typed_them(
    people: pl.DataFrame, customers: pl.DataFrame
) -> None:
    joined = customers.join(people, on="person_id", suffix="_person", validate="1:1")

    cleaned = joined.select(
        "email_person", "phone_person", normalise.email("email"), normalise.phone_e164("phone")
    )
    assert cleaned["email"].equals(cleaned["email_person"], check_names=False)
    assert cleaned["phone"].equals(cleaned["phone_person"], check_names=False)
    assert joined["first_name"].equals(joined["first_name_person"], check_names=False)
    # Some emails carry the CRM's stray capitals and spaces; phones come in every style.
    assert (joined["email"] != joined["email_person"]).sum() > 0
    assert joined["phone"].str.contains(r"^\+1 \d{3} \d{3} \d{4}$").any()
    assert joined["phone"].str.contains(r"^\(\d{3}\) \d{3}-\d{4}$").any()
    assert not joined["phone"].str.starts_with("+1").all()


def test_dates_and_values_are_plausible(customers: pl.DataFrame) -> None:
    start = day_start(0)

    assert (customers["signup_date"] < start.date()).all()
    assert customers["updated_at"].is_between(start, day_start(1), closed="left").all()
    assert (customers["lifetime_value"] > 0).all()
    assert customers["lifetime_value"].round(2).equals(customers["lifetime_value"])
    assert 0.8 < customers["is_active"].mean() < 1.0  # type: ignore[operator]
