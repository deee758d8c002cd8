"""The CRM: a seeded share of the people (a few twice), typed messily, then changed day by day
as their lives change: updates, deletes and sign-ups, with faults on a chosen day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import polars as pl
import pytest
import sqlalchemy as sa

from c360.settings import Settings, SourceSettings
from simulator import population
from simulator.clock import day_start
from simulator.context import DayContext
from simulator.emitters.database import connect, read_rows
from simulator.population import generate_people, live_day
from simulator.sources import crm
from simulator.sources.crm import (
    ADDRESS,
    COLUMNS,
    CRM_SHARE,
    CrmSource,
    daily_changes,
    initial_customers,
)
from simulator.truth import read_life_events, read_manifest, read_records
from simulator.world import PEOPLE as PEOPLE_STATE
from simulator.world import simulate
from tests.flows.crm_source import source_rows
from transforms.polars import normalise

PEOPLE = 2_000
SEED = 11
NO_EVENTS = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})
NO_DELETES = pl.Series("customer_id", [], pl.String)
FRAME_COLUMNS = [
    "person_id",
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "state",
    "postcode",
    "country",
    "signup_date",
    "lifetime_value",
    "is_active",
    "updated_at",
]
# Daily life-event rates high enough that a few thousand people see every kind each day.
BUSY_RATES = {"move": 0.05, "new_email": 0.05, "name_change": 0.05, "churn": 0.05}


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return generate_people(PEOPLE, seed=SEED)


@pytest.fixture
def crm_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings with the test's seed, and simulator settings (rates, faults) on top."""

    def make(**simulator: object) -> Settings:
        return make_settings(seed=SEED, scale="tiny", simulator=simulator or None)

    return make


@pytest.fixture
def settings(crm_settings: Callable[..., Settings]) -> Settings:
    return crm_settings()


@pytest.fixture
def customers(settings: Settings, people: pl.DataFrame) -> pl.DataFrame:
    return initial_customers(DayContext(0, settings, people, NO_EVENTS))


@pytest.fixture
def day_one(
    settings: Settings, people: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> DayContext:
    """Day 1 after a busy day of life events."""
    for event, rate in BUSY_RATES.items():
        monkeypatch.setitem(population.DAILY_RATES, event, rate)
    ctx = DayContext(1, settings, people, NO_EVENTS)
    lived, events = live_day(people, ctx.rng("people"), SEED)
    return DayContext(1, settings, lived, events)


def _event_persons(ctx: DayContext, event: str) -> list[str]:
    return ctx.events.filter(pl.col("event") == event)["person_id"].to_list()


# --- day 0 -------------------------------------------------------------------------------


def test_same_seed_gives_the_same_customers(
    settings: Settings, people: pl.DataFrame, customers: pl.DataFrame
) -> None:
    assert initial_customers(DayContext(0, settings, people, NO_EVENTS)).equals(customers)


def test_another_seed_gives_other_customers(
    make_settings: Callable[..., Settings], people: pl.DataFrame, customers: pl.DataFrame
) -> None:
    other = initial_customers(DayContext(0, make_settings(seed=SEED + 1), people, NO_EVENTS))

    assert not other["person_id"].equals(customers["person_id"])
    assert not other["lifetime_value"].equals(customers["lifetime_value"])


def test_columns_and_types(customers: pl.DataFrame) -> None:
    assert customers.columns == FRAME_COLUMNS == ["person_id", *COLUMNS]
    assert customers.schema["signup_date"] == pl.Date
    assert customers.schema["lifetime_value"] == pl.Float64
    assert customers.schema["is_active"] == pl.Boolean
    assert customers.schema["updated_at"] == pl.Datetime("us", "UTC")
    assert [c.name for c in crm.CUSTOMERS.columns] == COLUMNS


def test_a_share_of_people_become_customers(people: pl.DataFrame, customers: pl.DataFrame) -> None:
    # Binomial(2000, 0.85): the standard deviation of the share is 0.008.
    assert customers["person_id"].n_unique() / PEOPLE == pytest.approx(CRM_SHARE, abs=0.03)
    assert customers["customer_id"].is_unique().all()
    assert set(customers["person_id"]) <= set(people["person_id"])
    assert customers["customer_id"].head(2).to_list() == ["C00000001", "C00000002"]
    # Ids are issued in person order, with no gaps.
    numbers = customers["customer_id"].str.slice(1).cast(pl.Int64)
    assert numbers.to_list() == list(range(1, customers.height + 1))


def test_customers_are_the_people_as_the_crm_typed_them(
    people: pl.DataFrame, customers: pl.DataFrame
) -> None:
    single = customers.filter(pl.col("person_id").is_unique())
    joined = single.join(people, on="person_id", suffix="_person", validate="1:1")

    cleaned = joined.select(
        "email_person", "phone_person", normalise.email("email"), normalise.phone_e164("phone")
    )
    assert cleaned["email"].equals(cleaned["email_person"], check_names=False)
    assert cleaned["phone"].equals(cleaned["phone_person"], check_names=False)
    for column in [*ADDRESS, "country"]:
        assert joined[column].equals(joined[f"{column}_person"], check_names=False), column
    # Names carry the agents' typos at about the typo rate (0.02), never in the initial.
    typos = joined.filter(pl.col("first_name") != pl.col("first_name_person"))
    assert 0 < typos.height / joined.height < 0.05
    assert (
        typos["first_name"]
        .str.slice(0, 1)
        .equals(typos["first_name_person"].str.slice(0, 1), check_names=False)
    )
    # Some emails carry the CRM's stray capitals and spaces; phones come in every style.
    assert (joined["email"] != joined["email_person"]).sum() > 0
    assert joined["phone"].str.contains(r"^\+1 \d{3} \d{3} \d{4}$").any()
    assert joined["phone"].str.contains(r"^\(\d{3}\) \d{3}-\d{4}$").any()
    assert not joined["phone"].str.starts_with("+1").all()


def test_without_typos_names_are_the_peoples(
    crm_settings: Callable[..., Settings], people: pl.DataFrame
) -> None:
    customers = initial_customers(DayContext(0, crm_settings(typo_rate=0.0), people, NO_EVENTS))

    joined = customers.filter(pl.col("person_id").is_unique()).join(
        people, on="person_id", suffix="_person"
    )
    assert joined["first_name"].equals(joined["first_name_person"], check_names=False)
    assert joined["last_name"].equals(joined["last_name_person"], check_names=False)


def test_dates_and_values_are_plausible(customers: pl.DataFrame) -> None:
    start = day_start(0)

    assert (
        customers["signup_date"]
        .is_between(start.date() - timedelta(days=3 * 365), start.date())
        .all()
    )
    assert customers["updated_at"].is_between(start, day_start(1), closed="left").all()
    assert (customers["lifetime_value"] > 0).all()
    assert customers["lifetime_value"].round(2).equals(customers["lifetime_value"])
    assert 0.8 < customers["is_active"].mean() < 1.0  # type: ignore[operator]


# --- duplicates -------------------------------------------------------------------------


def _records_per_person(customers: pl.DataFrame) -> pl.DataFrame:
    return customers.group_by("person_id").len()


def test_some_people_have_two_customer_records(
    settings: Settings, people: pl.DataFrame, customers: pl.DataFrame
) -> None:
    per_person = _records_per_person(customers)

    assert per_person["len"].max() == 2
    twice = per_person.filter(pl.col("len") == 2)
    # Binomial(~1700, 0.03): the standard deviation of the share is 0.004.
    assert twice.height / per_person.height == pytest.approx(
        settings.simulator.duplicate_customer_rate, abs=0.015
    )
    assert customers.height == per_person.height + twice.height


def test_the_duplicate_share_follows_the_setting(
    crm_settings: Callable[..., Settings], people: pl.DataFrame
) -> None:
    customers = initial_customers(
        DayContext(0, crm_settings(duplicate_customer_rate=0.25), people, NO_EVENTS)
    )

    per_person = _records_per_person(customers)
    assert per_person.filter(pl.col("len") == 2).height / per_person.height == pytest.approx(
        0.25, abs=0.04
    )


def test_a_duplicate_is_the_same_person_typed_again(
    people: pl.DataFrame, customers: pl.DataFrame
) -> None:
    dupes = customers.filter(pl.col("person_id").is_duplicated()).join(
        people, on="person_id", suffix="_person"
    )

    # Two records, two ids, the same address; about half of them under a mistyped email.
    assert (
        dupes.group_by("person_id").agg(pl.col("customer_id").n_unique())["customer_id"].min() == 2
    )
    assert dupes["street"].equals(dupes["street_person"], check_names=False)
    mistyped = dupes.filter(normalise.email("email") != pl.col("email_person"))
    assert 0 < mistyped.height < dupes.height
    # A typo is one swapped, dropped or doubled letter.
    lengths = mistyped.select(
        typed=normalise.email("email").str.len_chars().cast(pl.Int64),
        true=pl.col("email_person").str.len_chars().cast(pl.Int64),
    )
    assert (lengths["typed"] - lengths["true"]).abs().max() <= 1  # type: ignore[operator]


# --- daily changes ------------------------------------------------------------------------


def test_movers_have_their_new_address_the_same_day(
    day_one: DayContext, customers: pl.DataFrame
) -> None:
    upserts, deletes, _ = daily_changes(day_one, customers)

    movers = _event_persons(day_one, "move")
    rows = customers.filter(
        pl.col("person_id").is_in(movers), ~pl.col("customer_id").is_in(deletes.implode())
    )
    assert rows.height > 20
    moved = upserts.filter(pl.col("customer_id").is_in(rows["customer_id"].implode()))
    assert moved.height == rows.height
    expected = moved.select("person_id").join(day_one.people, on="person_id", how="left")
    assert moved.select(ADDRESS).equals(expected.select(ADDRESS))
    # The old address is gone from every one of their rows.
    before = rows.sort("customer_id").select(ADDRESS)
    assert (moved.sort("customer_id")["street"] != before["street"]).all()


def test_new_names_and_emails_reach_the_crm(day_one: DayContext, customers: pl.DataFrame) -> None:
    upserts, _, _ = daily_changes(day_one, customers)

    truth = day_one.people.select("person_id", "email", "last_name")
    for event, column in (("name_change", "last_name"), ("new_email", "email")):
        rows = upserts.filter(pl.col("person_id").is_in(_event_persons(day_one, event)))
        joined = rows.join(truth, on="person_id", suffix="_true")
        assert joined.height > 20, event
        assert joined[column].equals(joined[f"{column}_true"], check_names=False), event


def test_churned_customers_are_deleted_or_deactivated(
    day_one: DayContext, customers: pl.DataFrame
) -> None:
    upserts, deletes, _ = daily_changes(day_one, customers)

    churned = customers.filter(pl.col("person_id").is_in(_event_persons(day_one, "churn")))
    deactivated = upserts.filter(pl.col("customer_id").is_in(churned["customer_id"].implode()))
    assert churned.height > 20
    # Every churned customer's row is either gone or inactive, never both, never neither.
    assert sorted([*deletes, *deactivated["customer_id"]]) == sorted(churned["customer_id"])
    assert not deactivated["is_active"].any()
    assert set(deletes) <= set(churned["customer_id"])
    assert 0.25 < deletes.len() / churned.height < 0.75  # HARD_DELETE_SHARE is 0.5
    assert deletes.is_sorted()


def test_only_changed_customers_and_sign_ups_are_emitted(
    day_one: DayContext, customers: pl.DataFrame
) -> None:
    upserts, deletes, new = daily_changes(day_one, customers)

    assert upserts.columns == FRAME_COLUMNS
    assert upserts["customer_id"].is_unique().all()
    assert upserts["updated_at"].is_between(day_start(1), day_start(2), closed="left").all()
    assert not set(deletes) & set(upserts["customer_id"])
    # An existing row is emitted only for a life event or a grown lifetime value.
    existing = upserts.join(customers, on="customer_id", suffix="_before")
    with_event = existing["person_id"].is_in(day_one.events["person_id"].implode())
    grew = existing["lifetime_value"] > existing["lifetime_value_before"]
    assert (with_event | grew).all()
    assert (existing["lifetime_value"] >= existing["lifetime_value_before"]).all()
    # Sign-ups: people not yet customers, never churned, under fresh ids.
    assert set(new["customer_id"]) == set(upserts["customer_id"]) - set(customers["customer_id"])
    assert not set(new["person_id"]) & set(customers["person_id"])
    churned = day_one.people.filter("is_churned")["person_id"]
    assert not new["person_id"].is_in(churned.implode()).any()
    assert new["customer_id"].min() > customers["customer_id"].max()  # type: ignore[operator]
    assert (new["signup_date"] == day_start(1).date()).all()


def test_a_deleted_customers_id_is_never_issued_again(
    settings: Settings, people: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = CrmSource()
    day0 = source.emit(DayContext(0, settings, people, NO_EVENTS))
    ids = day0.truth.sort("source_record_id")["source_record_id"]
    newest = day0.truth.filter(pl.col("source_record_id") == ids[-1])["person_id"].item()
    # Day 1: the person behind the newest id churns and is deleted; nobody signs up.
    monkeypatch.setattr(crm, "HARD_DELETE_SHARE", 1.0)
    monkeypatch.setattr(crm, "DAILY_SIGNUP_RATE", 0.0)
    churned = people.with_columns(is_churned=pl.col("person_id") == newest)
    events = pl.DataFrame({"person_id": [newest], "event": ["churn"]})
    day1 = source.emit(DayContext(1, settings, churned, events))
    # Day 2: many sign up.
    monkeypatch.setattr(crm, "DAILY_SIGNUP_RATE", 0.5)
    day2 = source.emit(DayContext(2, settings, churned, NO_EVENTS))

    assert day1.datasets[0].deletes >= 1
    issued = day2.truth["source_record_id"]
    assert issued.len() > 0
    assert issued.min() > ids[-1]  # type: ignore[operator]


# --- updated_at across days ---------------------------------------------------------------


def test_updated_at_never_moves_backwards(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crm, "DAILY_VALUE_CHANGE_RATE", 0.1)
    world = make_settings(scale="tiny")
    simulate(world)
    before = source_rows(world)
    for day in (1, 2, 3):
        simulate(world, days=1)
        after = source_rows(world)
        both = before.join(after, on="customer_id", suffix="_after")
        changed = both.filter(pl.col("updated_at_after") != pl.col("updated_at"))

        assert (both["updated_at_after"] >= both["updated_at"]).all(), day
        # The rows changed today carry today's time; the others keep theirs.
        assert changed.height > 20, day
        assert (
            changed["updated_at_after"]
            .is_between(day_start(day), day_start(day + 1), closed="left")
            .all()
        )
        before = after


def test_clock_skew_sets_some_rows_back_three_hours_on_the_fault_day(
    crm_settings: Callable[..., Settings],
    people: pl.DataFrame,
    customers: pl.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crm, "DAILY_VALUE_CHANGE_RATE", 0.3)
    plain_settings = crm_settings()
    skewed_settings = crm_settings(faults=["clock_skew"], fault_day=1)

    plain, plain_deletes, _ = daily_changes(
        DayContext(1, plain_settings, people, NO_EVENTS), customers
    )
    skewed, skewed_deletes, _ = daily_changes(
        DayContext(1, skewed_settings, people, NO_EVENTS), customers
    )

    assert skewed.drop("updated_at").equals(plain.drop("updated_at"))
    assert skewed_deletes.equals(plain_deletes)
    shift = plain["updated_at"] - skewed["updated_at"]
    assert set(shift.unique()) == {timedelta(0), timedelta(hours=3)}
    back = (shift == timedelta(hours=3)).sum()
    assert 0 < back < 0.15 * plain.height  # about 5% of the day's rows
    # Rows committed early in the day now claim to be from the day before.
    assert (skewed["updated_at"] < day_start(1)).any()
    # The day after the fault, the clock is right again.
    day2 = [
        daily_changes(DayContext(2, s, people, NO_EVENTS), customers)[0]
        for s in (plain_settings, skewed_settings)
    ]
    assert day2[0].equals(day2[1])


def test_schema_drift_adds_a_column_to_the_days_changes(
    crm_settings: Callable[..., Settings],
    people: pl.DataFrame,
    customers: pl.DataFrame,
) -> None:
    plain, _, plain_new = daily_changes(DayContext(1, crm_settings(), people, NO_EVENTS), customers)
    drifted, _, drifted_new = daily_changes(
        DayContext(1, crm_settings(faults=["schema_drift"], fault_day=1), people, NO_EVENTS),
        customers,
    )

    assert drifted.columns == [*FRAME_COLUMNS, crm.DRIFT_COLUMN]
    assert drifted.drop(crm.DRIFT_COLUMN).equals(plain)
    assert set(drifted[crm.DRIFT_COLUMN]) <= {"gold", "silver", "bronze"}
    assert drifted[crm.DRIFT_COLUMN].null_count() == 0
    assert drifted_new["customer_id"].equals(plain_new["customer_id"])


def _manifest_rows(settings: Settings, day: int) -> int:
    manifest = read_manifest(settings.sources_dir / "truth")
    return int(manifest.filter(pl.col("day") == day, pl.col("source") == crm.NAME)["rows"].sum())


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def crm_url(request: pytest.FixtureRequest) -> str | None:
    """The CRM database on each backend (None: the profile's SQLite file)."""
    if request.param == "mariadb":
        return str(request.getfixturevalue("mysql_url"))
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return None


def test_schema_drift_adds_the_column_to_the_live_table_on_the_fault_day(
    make_settings: Callable[..., Settings], crm_url: str | None
) -> None:
    world = make_settings(
        scale="tiny",
        sources=SourceSettings(crm_url=crm_url) if crm_url else SourceSettings(),
        simulator={"faults": ["schema_drift"], "fault_day": 1},
    )
    url = world.resolved_sources().crm_url
    assert url

    def live() -> pl.DataFrame:
        engine = connect(url)
        try:
            table = sa.Table(crm.CUSTOMERS.name, sa.MetaData(), autoload_with=engine)
            return read_rows(engine, table)
        finally:
            engine.dispose()

    simulate(world)
    assert live().columns == COLUMNS

    simulate(world, days=1)
    drifted = live()
    day1 = _manifest_rows(world, day=1)
    assert drifted.columns == [*COLUMNS, crm.DRIFT_COLUMN]
    tiered = drifted.filter(pl.col(crm.DRIFT_COLUMN).is_not_null())
    assert tiered.height == day1 > 0
    assert set(tiered[crm.DRIFT_COLUMN]) <= {"gold", "silver", "bronze"}
    assert tiered["updated_at"].min() >= day_start(1).replace(tzinfo=None)  # type: ignore[operator]

    # The day after, the CRM keeps writing; new rows leave the new column empty.
    simulate(world, days=1)
    after = live()
    assert after.columns == drifted.columns
    day2 = after.filter(pl.col("updated_at") >= day_start(2).replace(tzinfo=None))
    assert day2.height == _manifest_rows(world, day=2)
    assert day2[crm.DRIFT_COLUMN].null_count() == day2.height


# --- life events through the world ---------------------------------------------------------


def test_life_events_reach_the_crm_database_the_same_day(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    for event, rate in BUSY_RATES.items():
        monkeypatch.setitem(population.DAILY_RATES, event, rate)
    world = make_settings(scale="tiny")

    simulate(world, days=1)

    truth = world.sources_dir / "truth"
    events = read_life_events(truth).filter(pl.col("day") == 1)
    owners = read_records(truth).filter(pl.col("source") == crm.NAME)
    people = DayContext(2, world, pl.DataFrame(), NO_EVENTS).load_state(PEOPLE_STATE)
    assert people is not None
    rows = source_rows(world).join(
        owners.select(customer_id="source_record_id", person_id="person_id"), on="customer_id"
    )

    def rows_of(event: str) -> pl.DataFrame:
        persons = events.filter(pl.col("event") == event)["person_id"].implode()
        return rows.filter(pl.col("person_id").is_in(persons))

    moved = rows_of("move").join(people, on="person_id", suffix="_true")
    assert moved.height > 5
    for column in ADDRESS:
        assert moved[column].equals(moved[f"{column}_true"], check_names=False), column
    assert (moved["updated_at"] >= day_start(1)).all()
    # Churned persons' rows are deleted or deactivated.
    churned_ids = owners.filter(
        pl.col("person_id").is_in(events.filter(pl.col("event") == "churn")["person_id"].implode())
    )["source_record_id"]
    still_there = rows.filter(pl.col("customer_id").is_in(churned_ids.implode()))
    assert churned_ids.len() > 5
    assert still_there.height < churned_ids.len()
    assert not still_there["is_active"].any()
