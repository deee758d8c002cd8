"""The orders family: reproducible orders that reconcile, guests, truth and daily changes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from c360.settings import Settings, load_settings
from simulator.clock import day_start
from simulator.context import DayContext, Emission
from simulator.emitters.database import connect, read_rows
from simulator.population import generate_people, live_day
from simulator.sources.crm import CUSTOMERS, CrmSource
from simulator.sources.orders import (
    DAILY_ORDER_RATE,
    HISTORY_DAYS,
    ORDER_ITEMS,
    ORDERS,
    PAYMENTS,
    PRODUCT_COUNT,
    PRODUCTS,
    TABLES,
    CrmStateMissingError,
    OrdersSource,
)
from simulator.truth import frame_checksum

PEOPLE = 3_000
SEED = 7
DAYS = 3
NO_EVENTS = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})
# Each status can only move on to these.
NEXT_STATUSES = {
    "placed": {"placed", "shipped", "delivered", "cancelled"},
    "shipped": {"shipped", "delivered", "refunded"},
    "delivered": {"delivered", "refunded"},
    "refunded": {"refunded"},
    "cancelled": {"cancelled"},
}


@dataclass
class World:
    """A world lived for days 0..DAYS: what each day emitted and the databases after it."""

    settings: Settings
    emissions: list[Emission] = field(default_factory=list)
    snapshots: list[dict[str, pl.DataFrame]] = field(default_factory=list)
    crm: list[pl.DataFrame] = field(default_factory=list)
    crm_emissions: list[Emission] = field(default_factory=list)

    @property
    def last(self) -> dict[str, pl.DataFrame]:
        return self.snapshots[-1]

    @property
    def truth(self) -> pl.DataFrame:
        return pl.concat([e.truth for e in self.emissions])

    def manifest(self, day: int) -> dict[str, tuple[int, str]]:
        return {d.dataset: (d.rows, d.checksum) for d in self.emissions[day].datasets}


def _days(settings: Settings) -> Iterator[tuple[DayContext, Emission, Emission]]:
    """Live days 0..DAYS as the world does: the CRM emits each day before the orders.

    Yields:
        The day, what the CRM emitted and what the orders emitted.
    """
    people = generate_people(PEOPLE, settings.seed)
    ctx = DayContext(0, settings, people, NO_EVENTS)
    for day in range(DAYS + 1):
        if day > 0:
            rng = DayContext(day, settings, people, NO_EVENTS).rng("people")
            people, events = live_day(people, rng, settings.seed)
            ctx = DayContext(day, settings, people, events)
        crm = CrmSource().emit(ctx)
        yield ctx, crm, OrdersSource().emit(ctx)


def _read(url: str | None, tables: tuple[sa.Table, ...]) -> dict[str, pl.DataFrame]:
    assert url
    engine = connect(url)
    try:
        return {table.name: read_rows(engine, table) for table in tables}
    finally:
        engine.dispose()


def _live(settings: Settings) -> World:
    world = World(settings)
    for _, crm, emission in _days(settings):
        world.crm_emissions.append(crm)
        world.emissions.append(emission)
        world.snapshots.append(_read(settings.resolved_sources().orders_url, TABLES))
        world.crm.append(_read(settings.resolved_sources().crm_url, (CUSTOMERS,))["customers"])
    return world


def _settings(home: Path, seed: int = SEED, **overrides: object) -> Settings:
    with pytest.MonkeyPatch.context() as m:
        for name in os.environ:
            if name.startswith("C360_"):
                m.delenv(name)
        m.chdir(home.parent)  # so a developer's `.env` in the repo is not read
        return load_settings(home=home, seed=seed, **overrides)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _live(_settings(tmp_path_factory.mktemp("world") / "home"))


def _as_emitted(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows read back as the family emitted them: UTC timestamps, NUMERIC(12, 2) money."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.replace_time_zone("UTC"), pl.col(pl.Decimal).cast(pl.Decimal(12, 2))
    )


def _in_day(column: str, day: int) -> pl.Expr:
    start, end = (day_start(d).replace(tzinfo=None) for d in (day, day + 1))
    return pl.col(column).is_between(start, end, closed="left")


def test_same_seed_gives_identical_rows_and_checksums(world: World, tmp_path: Path) -> None:
    again = _live(_settings(tmp_path / "again"))

    for day in range(DAYS + 1):
        assert again.manifest(day) == world.manifest(day)
        assert again.emissions[day].truth.equals(world.emissions[day].truth)
        for name, frame in world.snapshots[day].items():
            assert again.snapshots[day][name].equals(frame), (day, name)


def test_another_seed_gives_other_orders(world: World, tmp_path: Path) -> None:
    other = _live(_settings(tmp_path / "other", seed=SEED + 1))

    assert other.manifest(0) != world.manifest(0)
    assert not other.last["orders"]["order_total"].equals(world.last["orders"]["order_total"])


def test_volumes_follow_the_population(world: World) -> None:
    first = world.snapshots[0]
    orders = first["orders"]
    expected_day0 = DAILY_ORDER_RATE * PEOPLE * (HISTORY_DAYS + 1)

    assert orders.height == pytest.approx(expected_day0, rel=0.1)
    assert orders["ordered_at"].min() >= day_start(-HISTORY_DAYS).replace(tzinfo=None)
    assert orders["ordered_at"].max() < day_start(1).replace(tzinfo=None)
    assert first["order_items"].height > orders.height
    assert first["products"].height == PRODUCT_COUNT
    for day in range(1, DAYS + 1):
        assert world.emissions[day].truth.height == pytest.approx(
            DAILY_ORDER_RATE * PEOPLE, rel=0.35
        )
    # Some orders are still under way at the start; most history is delivered.
    statuses = orders["status"].value_counts().sort("status")
    assert set(statuses["status"]) == set(NEXT_STATUSES)
    assert orders["status"].eq("delivered").mean() > 0.7  # type: ignore[operator]


def test_money_reconciles_per_order(world: World) -> None:
    db = world.last
    items = db["order_items"]
    assert items.filter(
        pl.col("unit_price") * pl.col("quantity") != pl.col("line_total")
    ).is_empty()
    assert (items["unit_price"] > 0).all()
    payments = (
        db["payments"]
        .group_by("order_id")
        .agg(
            paid=pl.col("amount").filter(pl.col("amount") > 0).sum(),
            returned=pl.col("amount").filter(pl.col("amount") < 0).sum(),
            refunds=(pl.col("amount") < 0).sum(),
        )
    )
    lines = items.group_by("order_id").agg(lines=pl.col("line_total").sum())
    checked = (
        db["orders"]
        .join(lines, on="order_id", how="left", validate="1:1")
        .join(payments, on="order_id", how="left", validate="1:1")
    )

    assert checked["lines"].null_count() == 0
    assert checked["paid"].null_count() == 0
    assert (checked["lines"] == checked["order_total"]).all()
    assert (checked["paid"] == checked["order_total"]).all()
    # Refunded and cancelled orders paid everything back, once; the others nothing.
    returned = checked.filter(pl.col("status").is_in(["refunded", "cancelled"]))
    assert (returned["refunds"] == 1).all()
    assert (returned["returned"] == -returned["order_total"]).all()
    kept = checked.filter(~pl.col("status").is_in(["refunded", "cancelled"]))
    assert (kept["refunds"] == 0).all()
    assert checked["order_total"].sum() > Decimal("1000.00")
    # Money has cents, and some orders were split across two payments.
    assert (checked["order_total"] * 100 % 1 == 0).all()
    assert db["payments"].filter(pl.col("amount") > 0)["order_id"].is_duplicated().any()


def test_guests_leave_an_email_or_a_phone(world: World) -> None:
    orders = world.last["orders"].join(
        world.truth, left_on="order_id", right_on="source_record_id", validate="1:1"
    )
    guests = orders.filter(pl.col("customer_id").is_null())

    assert 0.1 < guests.height / orders.height < 0.45
    assert guests.filter(pl.col("email").is_null() & pl.col("phone").is_null()).is_empty()
    assert guests["email"].is_null().any()
    assert guests["phone"].is_null().any()
    # Some guests are CRM customers who did not log in: identity resolution must find them.
    in_crm = guests["person_id"].is_in(_crm_people(world).implode())
    assert in_crm.any()
    assert not in_crm.all()


def _crm_people(world: World) -> pl.Series:
    """Every person the CRM held a record of on some day."""
    return _crm_truth(world)["person_id"].unique()


def test_customer_ids_are_the_buyers_crm_records(world: World) -> None:
    for day in range(DAYS + 1):
        orders = world.snapshots[day]["orders"]
        if day > 0:  # older orders may name a customer deleted since
            orders = orders.filter(_in_day("ordered_at", day))
        logged_in = orders.filter(pl.col("customer_id").is_not_null()).join(
            world.truth, left_on="order_id", right_on="source_record_id"
        )
        crm = world.crm[day]
        assert logged_in.height > 0
        assert logged_in["customer_id"].is_in(crm["customer_id"].implode()).all()
        known = _crm_truth(world).filter(pl.col("customer_id").is_in(crm["customer_id"].implode()))
        matched = logged_in.join(known, on="customer_id", suffix="_crm")
        assert matched.height == logged_in.height
        assert (matched["person_id"] == matched["person_id_crm"]).all()


def _crm_truth(world: World) -> pl.DataFrame:
    """Which person each CRM record belongs to, from the CRM's truth."""
    return pl.concat(e.truth for e in world.crm_emissions).select(
        customer_id="source_record_id", person_id="person_id"
    )


def test_truth_covers_every_order(world: World) -> None:
    truth = world.truth

    assert truth["source"].unique().to_list() == ["orders"]
    assert truth["source_record_id"].is_unique().all()
    assert (
        truth["source_record_id"].sort().equals(world.last["orders"]["order_id"], check_names=False)
    )
    people = generate_people(PEOPLE, SEED)["person_id"]
    assert truth["person_id"].is_in(people.implode()).all()


def test_each_later_day_carries_only_its_changes(world: World) -> None:
    for day in range(1, DAYS + 1):
        db = world.snapshots[day]
        orders_today = db["orders"].filter(_in_day("ordered_at", day))["order_id"]
        today = {
            "products": db["products"].filter(_in_day("updated_at", day)),
            "orders": db["orders"].filter(_in_day("updated_at", day)),
            "order_items": db["order_items"].filter(
                pl.col("order_id").is_in(orders_today.implode())
            ),
            "payments": db["payments"].filter(_in_day("updated_at", day)),
        }
        manifest = world.manifest(day)
        for table in (PRODUCTS, ORDERS, ORDER_ITEMS, PAYMENTS):
            rows = _as_emitted(today[table.name])
            key = next(iter(table.primary_key.columns)).name
            assert manifest[f"orders.{table.name}"] == (rows.height, frame_checksum(rows, key))
        # Orders placed earlier moved on today.
        assert today["orders"].height > orders_today.len()


def test_day_zero_manifest_is_the_whole_database(world: World) -> None:
    manifest = world.manifest(0)

    for table in TABLES:
        rows = _as_emitted(world.snapshots[0][table.name])
        key = next(iter(table.primary_key.columns)).name
        assert manifest[f"orders.{table.name}"] == (rows.height, frame_checksum(rows, key))


def test_rows_only_move_forward(world: World) -> None:
    for day in range(1, DAYS + 1):
        before, after = world.snapshots[day - 1], world.snapshots[day]
        for table in TABLES:
            key = next(iter(table.primary_key.columns)).name
            joined = before[table.name].join(after[table.name], on=key, how="left", suffix="_after")
            # Nothing is ever deleted, and no row's updated_at goes back.
            assert joined.height == before[table.name].height
            if "updated_at" in joined.columns:
                assert joined["updated_at_after"].null_count() == 0
                assert (joined["updated_at_after"] >= joined["updated_at"]).all()
        statuses = before["orders"].join(after["orders"], on="order_id", suffix="_after")
        moves = statuses.select("status", "status_after").unique().rows()
        assert all(new in NEXT_STATUSES[old] for old, new in moves), moves
        changed = statuses.filter(pl.col("status") != pl.col("status_after"))
        assert (changed["updated_at_after"] > changed["updated_at"]).all()
        assert changed.height > 0


def test_reemitting_a_day_changes_nothing(world: World, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "crash")
    contexts = _days(settings)
    next(contexts)
    ctx, _, first = next(contexts)  # day 1, then emitted again as after a crash

    again = OrdersSource().emit(ctx)

    assert again.datasets == first.datasets
    assert again.truth.equals(first.truth)
    for name, frame in _read(settings.resolved_sources().orders_url, TABLES).items():
        assert frame.equals(world.snapshots[1][name]), name


def test_orders_need_the_crm_first(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "alone")
    ctx = DayContext(0, settings, generate_people(100, SEED), NO_EVENTS)

    with pytest.raises(CrmStateMissingError, match="emit the CRM family before the orders"):
        OrdersSource().emit(ctx)


@pytest.mark.integration
@pytest.mark.parametrize("server", ["postgres_url", "mysql_url"])
def test_a_server_holds_the_same_rows_as_sqlite(
    world: World, tmp_path: Path, request: pytest.FixtureRequest, server: str
) -> None:
    url = request.getfixturevalue(server)
    settings = _settings(tmp_path / "server", sources={"orders_url": url})

    on_server = _live(settings)

    assert settings.resolved_sources().orders_url == url
    for day in range(DAYS + 1):
        assert on_server.manifest(day) == world.manifest(day)
        for name, frame in world.snapshots[day].items():
            assert on_server.snapshots[day][name].equals(frame), (day, name)
