"""Support tickets: varied free text as JSON lines, with hidden topic, sentiment and orders."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from c360.settings import Settings, load_settings
from simulator.clock import day_start
from simulator.context import DayContext
from simulator.emitters.database import connect
from simulator.emitters.landing import open_landing, rows_checksum
from simulator.population import generate_people
from simulator.sources.crm import CrmSource
from simulator.sources.orders import OrdersSource
from simulator.sources.tickets import (
    CHANNELS,
    DAILY_TICKET_RATE,
    SENTIMENTS,
    TOPICS,
    TicketsSource,
    day_tickets,
)
from tests.simulator.sources.lived_world import World, live

FIELDS = ["ticket_id", "created_at", "channel", "subject", "body", "customer_email"]
ORDER_REF = re.compile(r"#?(O\d{9})\b")


@pytest.fixture
def settings_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Tiny-world settings under `tmp_path/<name>`: one home per world in a test."""

    def make(name: str, **overrides: object) -> Settings:
        with monkeypatch.context() as m:
            m.chdir(tmp_path)  # so a developer's `.env` in the repo is not read
            return load_settings(home=tmp_path / name, scale="tiny", **overrides)

    return make


def tickets_of(world: World) -> pl.DataFrame:
    """Every landed ticket, parsed line by line with `json`, with the file it came from."""
    landing = open_landing(world.settings)
    rows = [
        {**json.loads(line), "file": key}
        for key in landing.list("tickets/")
        for line in landing.get(key).decode().splitlines()
    ]
    return pl.DataFrame(rows, schema={**dict.fromkeys(FIELDS, pl.String), "file": pl.String})


def hidden_truth(world: World) -> pl.DataFrame:
    return pl.read_parquet(world.settings.sources_dir / "truth" / "tickets" / "*.parquet")


@pytest.fixture
def shop(settings_at: Callable[..., Settings]) -> World:
    """Four days of 5,000 people with a CRM, an orders system and a support desk."""
    return live(settings_at("shop"), 4, [CrmSource(), OrdersSource(), TicketsSource()], 5_000)


def test_same_seed_gives_byte_identical_files(settings_at: Callable[..., Settings]) -> None:
    first = live(settings_at("first"), 3, [TicketsSource()])
    again = live(settings_at("again"), 3, [TicketsSource()])
    other = live(settings_at("other", seed=43), 3, [TicketsSource()])

    assert first.files == again.files
    assert first.manifest("tickets") == again.manifest("tickets")
    assert first.files.keys() == other.files.keys()
    assert first.files != other.files


def test_each_file_is_json_lines_matching_the_manifest(shop: World) -> None:
    tickets = tickets_of(shop)
    manifest = shop.manifest("tickets")

    assert sorted(manifest) == [f"tickets/tickets_2026010{d}.jsonl" for d in range(1, 5)]
    for key, (rows, checksum) in manifest.items():
        landed = tickets.filter(file=key).drop("file")
        assert (landed.height, rows_checksum(landed)) == (rows, checksum)
        day = int(key[-8:-6]) - 1
        created = landed["created_at"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
        assert created.is_between(day_start(day), day_start(day + 1), closed="left").all()
        assert created.is_sorted()
    # Ticket ids run on across days, never repeating.
    assert tickets["ticket_id"].to_list() == [f"TCK-{i:07d}" for i in range(1, tickets.height + 1)]
    assert set(tickets["channel"]) == set(CHANNELS)


def test_truth_covers_every_ticket(shop: World) -> None:
    tickets = tickets_of(shop)
    truth = shop.truth("tickets")
    hidden = hidden_truth(shop)

    assert truth["source_record_id"].sort().equals(tickets["ticket_id"], check_names=False)
    assert set(truth["source"]) == {"tickets"}
    assert set(truth["person_id"]) <= set(shop.people["person_id"])
    assert hidden.select("ticket_id", "person_id").equals(
        truth.select(ticket_id="source_record_id", person_id="person_id")
    )
    assert set(hidden["topic"]) == set(TOPICS)
    assert set(hidden["sentiment"]) == set(SENTIMENTS)


def test_emails_are_the_customers_as_they_typed_them(shop: World) -> None:
    tickets = tickets_of(shop).join(
        hidden_truth(shop), on="ticket_id", validate="1:1", maintain_order="left"
    )
    joined = tickets.join(shop.people, on="person_id", validate="m:1", maintain_order="left")

    typed = joined.filter(pl.col("customer_email").is_not_null())
    same = typed["customer_email"].str.strip_chars().str.to_lowercase() == typed["email"]
    assert same.mean() > 0.85  # type: ignore[operator]
    # Phone calls often leave no email; emails and web forms always have one.
    no_email = joined.filter(pl.col("customer_email").is_null())
    assert set(no_email["channel"]) <= {"phone", "chat"}


def test_tickets_quote_real_orders_of_their_customer(shop: World) -> None:
    tickets = tickets_of(shop).join(hidden_truth(shop), on="ticket_id", maintain_order="left")
    with connect(str(shop.settings.resolved_sources().orders_url)).connect() as conn:
        orders: set[str] = set(conn.execute(sa.text("select order_id from orders")).scalars())
    buyers = shop.truth("orders").select(order_id="source_record_id", buyer="person_id")

    quoting = tickets.filter(pl.col("order_id").is_not_null())
    assert quoting.height > 0
    for row in quoting.iter_rows(named=True):
        quoted = ORDER_REF.findall(row["body"])
        assert quoted == [row["order_id"]], row["body"]
    assert set(quoting["order_id"]) <= orders
    bought = quoting.join(buyers, on="order_id", how="left")
    assert (bought["buyer"] == bought["person_id"]).all()
    assert set(quoting["topic"]) <= {"billing", "shipping", "returns"}
    # Day 0 has no orders of yesterday to quote; tickets without an order quote none.
    assert not quoting["file"].str.ends_with("20260101.jsonl").any()
    others = tickets.filter(pl.col("order_id").is_null())
    assert not others["body"].str.contains(ORDER_REF.pattern).any()


def test_without_orders_no_ticket_quotes_one(settings_at: Callable[..., Settings]) -> None:
    world = live(settings_at("desk"), 3, [TicketsSource()])

    assert hidden_truth(world)["order_id"].null_count() == hidden_truth(world).height
    assert not tickets_of(world)["body"].str.contains(ORDER_REF.pattern).any()


def test_text_is_varied_and_fits_topic_and_channel(settings_at: Callable[..., Settings]) -> None:
    settings = settings_at("busy")
    people = generate_people(20_000, settings.seed)
    tickets = day_tickets(DayContext(1, settings, people, pl.DataFrame()))  # a Friday

    assert tickets.height == pytest.approx(20_000 * DAILY_TICKET_RATE, rel=0.25)
    assert tickets["body"].n_unique() > 0.9 * tickets.height
    assert tickets["subject"].n_unique() > 30
    assert not tickets["body"].str.contains(r"[{}]").any()
    phone = tickets.filter(channel="phone")
    assert phone["body"].str.starts_with("Customer called about").all()
    emails = tickets.filter(channel="email")
    assert emails["body"].str.contains(r"\n\n").all()
    refunds = tickets.filter(topic="billing")["body"].str.contains(
        r"charged|refund|invoice|statement"
    )
    assert refunds.all()
    assert (
        tickets.filter(sentiment="negative")["body"]
        .str.contains(
            r"(?i)frustrat|unacceptable|disappoint|ridiculous|upset|angry|poor|third time|help now"
            r"|dispute|elsewhere|today|supervisor|escalated|anyone there"
        )
        .all()
    )


def test_weekends_are_quieter(settings_at: Callable[..., Settings]) -> None:
    settings = settings_at("weekly")
    people = generate_people(20_000, settings.seed)
    counts = {
        day_start(day).strftime("%a"): day_tickets(
            DayContext(day, settings, people, pl.DataFrame())
        ).height
        for day in range(7)
    }

    assert counts["Sat"] + counts["Sun"] < 0.8 * (counts["Thu"] + counts["Fri"])
    assert all(50 <= n <= 150 for n in counts.values())
