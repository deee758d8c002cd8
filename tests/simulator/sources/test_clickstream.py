"""The clickstream: sessions of JSON events on the stream, deterministic, with late,
out-of-order and duplicated events at the configured rates, and truth for every event."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from c360.settings import Settings, load_settings
from simulator.clock import day_start
from simulator.context import DayContext, Emission
from simulator.emitters.stream import Stream, open_stream, read_shard
from simulator.population import generate_people, live_day
from simulator.sources import clickstream
from simulator.sources.clickstream import (
    DATASET,
    DEVICES_TRUTH,
    DISTINCT_DATASET,
    EVENT_FIELDS,
    EVENT_TYPES,
    ClickstreamSource,
    events_checksum,
)
from simulator.sources.crm import CrmSource

PEOPLE = 5_000
DAYS = 3
RATES = {"late_event_rate": 0.05, "duplicate_event_rate": 0.03, "out_of_order_rate": 0.10}
NO_EVENTS = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})


@dataclass(frozen=True)
class Day:
    """What one simulated day put on the stream, as read back, and the CRM that day."""

    emission: Emission
    events: pl.DataFrame  # one row per record: payload, its fields, shard, sequence number
    crm: pl.DataFrame


def simulate(settings: Settings, people: int, days: int) -> list[Day]:
    """Run the CRM then the clickstream for `days` days; read each day's records back."""
    population = generate_people(people, settings.seed)
    life = NO_EVENTS
    stream = open_stream(settings)
    positions: dict[str, str | None] = {}
    out = []
    for day in range(days):
        if day:
            population, life = live_day(
                population, np.random.default_rng([settings.seed, day]), settings.seed
            )
        ctx = DayContext(day, settings, population, life)
        CrmSource().emit(ctx)
        emission = ClickstreamSource().emit(ctx)
        crm = pl.read_parquet(ctx.world_dir / "crm" / f"day={day:04d}.parquet")
        out.append(Day(emission, _read_new(stream, positions), crm))
    stream.close()
    return out


def _read_new(stream: Stream, positions: dict[str, str | None]) -> pl.DataFrame:
    rows = []
    for shard in stream.shard_ids():
        for record in read_shard(stream, shard, positions.get(shard), page_size=2_000):
            rows.append((shard, int(record.sequence_number), record.data.decode()))
            positions[shard] = record.sequence_number
    frame = pl.DataFrame(rows, schema=["shard", "sequence", "payload"], orient="row")
    if frame.is_empty():
        return frame.with_columns(pl.lit(None, pl.String).alias(f) for f in EVENT_FIELDS)
    events = pl.read_ndjson(
        io.BytesIO("\n".join(frame["payload"]).encode()), infer_schema_length=None
    )
    return pl.concat([frame, events], how="horizontal")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clickstream")


@pytest.fixture(scope="module")
def settings(home: Path) -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as m:
        for name in list(os.environ):
            if name.startswith("C360_"):
                m.delenv(name)
        m.chdir(home)
        yield load_settings(home=home, seed=7, simulator=RATES)


@pytest.fixture(scope="module")
def world(settings: Settings) -> list[Day]:
    return simulate(settings, PEOPLE, DAYS)


@pytest.fixture(scope="module")
def truth(world: list[Day]) -> pl.DataFrame:
    return pl.concat([d.emission.truth for d in world])


@pytest.fixture(scope="module")
def devices(settings: Settings, world: list[Day]) -> pl.DataFrame:
    return pl.read_parquet(settings.sources_dir / "truth" / DEVICES_TRUTH)


def _first_copies(day: Day) -> pl.DataFrame:
    """The day's records, each event once, in put order within each shard."""
    return day.events.sort("shard", "sequence").unique(
        "event_id", keep="first", maintain_order=True
    )


def _event_at(frame: pl.DataFrame) -> pl.Series:
    return frame["event_at"].str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC")


# --- Shape and volume ----------------------------------------------------------------------


def test_events_are_json_with_the_documented_fields(world: list[Day]) -> None:
    events = pl.concat([d.events for d in world])

    assert events.columns == ["shard", "sequence", "payload", *EVENT_FIELDS]
    assert set(events["event_type"]) == set(EVENT_TYPES)
    assert events["event_id"].str.contains(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-").all()
    assert _event_at(events).is_not_null().all()
    assert events.filter(pl.col("event_type") == "search")["query"].is_not_null().all()
    assert events.filter(pl.col("event_type") != "search")["query"].is_null().all()
    carts = events.filter(pl.col("event_type") == "add_to_cart")
    assert carts["product_id"].str.contains(r"^PRD\d{5}$").all()
    assert (carts["page"] == "/products/" + carts["product_id"]).all()
    assert (events.filter(pl.col("event_type") == "login")["page"] == "/login").all()


def test_a_day_carries_about_one_event_per_person(world: list[Day]) -> None:
    for day in world:
        assert 0.5 * PEOPLE < day.events.height < 1.5 * PEOPLE


def test_the_manifest_counts_and_checksums_what_is_on_the_stream(world: list[Day]) -> None:
    for day in world:
        emitted = {e.dataset: e for e in day.emission.datasets}
        distinct = _first_copies(day)

        assert emitted[DATASET].rows == day.events.height
        assert emitted[DATASET].checksum == events_checksum(day.events["payload"])
        assert emitted[DISTINCT_DATASET].rows == distinct.height
        assert emitted[DISTINCT_DATASET].checksum == events_checksum(distinct["payload"])


def test_a_device_s_events_share_a_shard(world: list[Day]) -> None:
    events = pl.concat([d.events for d in world])

    assert (events.group_by("device_id").agg(pl.col("shard").n_unique())["shard"] == 1).all()
    assert events["shard"].n_unique() == 2


# --- Faults at the configured rates --------------------------------------------------------


def test_late_events_arrive_the_next_day_with_their_own_event_at(world: list[Day]) -> None:
    for number in range(1, DAYS):
        before, after = world[number - 1], world[number]
        arrived = _first_copies(after)
        late = arrived.filter(_event_at(arrived) < day_start(number))
        put_before = _first_copies(before)
        own_before = put_before.filter(_event_at(put_before) >= day_start(number - 1))

        assert (
            _event_at(late)
            .is_between(day_start(number - 1), day_start(number), closed="left")
            .all()
        )
        assert late.height / (own_before.height + late.height) == pytest.approx(
            RATES["late_event_rate"], abs=0.02
        )
        assert set(late["event_id"]).isdisjoint(before.events["event_id"])
        assert set(late["event_id"]) <= set(after.emission.truth["source_record_id"])
        assert set(late["event_id"]).isdisjoint(before.emission.truth["source_record_id"])


def test_duplicates_repeat_an_event_exactly(world: list[Day]) -> None:
    for day in world:
        distinct = day.events["event_id"].n_unique()
        copies = day.events.filter(pl.col("event_id").is_duplicated())

        assert (day.events.height - distinct) / distinct == pytest.approx(
            RATES["duplicate_event_rate"], abs=0.012
        )
        assert copies.group_by("event_id").agg(pl.col("payload").n_unique())["payload"].max() == 1
        assert copies.group_by("event_id").len()["len"].max() == 2


def test_a_share_of_events_is_put_after_later_events(world: list[Day]) -> None:
    for number, day in enumerate(world):
        events = _first_copies(day).with_columns(at=_event_at(_first_copies(day)))
        # Late arrivals are out of order by definition; measure the day's own events.
        own = events.filter(pl.col("at") >= day_start(number))
        behind = own.with_columns(
            behind=pl.col("at") < pl.col("at").cum_max().shift(1).over("shard")
        )["behind"]

        assert behind.mean() == pytest.approx(RATES["out_of_order_rate"], abs=0.03)


# --- Identity: devices, sessions, logins ---------------------------------------------------


def test_logged_in_events_carry_the_person_s_active_crm_account(
    world: list[Day], truth: pl.DataFrame
) -> None:
    for day in world:
        identified = _first_copies(day).filter(pl.col("customer_id").is_not_null())
        joined = identified.join(
            truth.select("source_record_id", "person_id"),
            left_on="event_id",
            right_on="source_record_id",
        ).join(day.crm, on="customer_id", how="left", suffix="_crm")

        assert identified.height > 0.1 * day.events.height
        assert joined.height == identified.height
        assert joined["is_active"].all()
        assert (joined["person_id"] == joined["person_id_crm"]).all()


def test_sessions_are_anonymous_until_a_login(world: list[Day]) -> None:
    events = pl.concat([_first_copies(d) for d in world])
    # The last day's late events are still held back: look at the days before it.
    sessions = (
        events.with_columns(at=_event_at(events))
        .filter(pl.col("at").max().over("session_id") < day_start(DAYS - 1))
        .sort("session_id", "at", "event_id")
        .group_by("session_id", maintain_order=True)
        .agg(
            logins=(pl.col("event_type") == "login").sum(),
            first_login=(pl.col("event_type") == "login").arg_max(),
            first_known=pl.col("customer_id").is_not_null().arg_max(),
            known=pl.col("customer_id").is_not_null().sum(),
            accounts=pl.col("customer_id").drop_nulls().n_unique(),
            size=pl.len(),
        )
    )
    with_login = sessions.filter(pl.col("logins") > 0)

    assert (sessions["logins"] <= 1).all()
    assert sessions.filter(pl.col("logins") == 0)["known"].max() == 0
    assert (with_login["first_known"] == with_login["first_login"]).all()
    assert (with_login["known"] == with_login["size"] - with_login["first_login"]).all()
    assert (with_login["accounts"] == 1).all()


def test_devices_are_stable_and_belong_to_one_person(
    world: list[Day], truth: pl.DataFrame, devices: pl.DataFrame
) -> None:
    events = pl.concat([_first_copies(d) for d in world]).join(
        truth.select(event_id="source_record_id", person_id="person_id"), on="event_id"
    )
    per_person = devices.group_by("person_id").len()["len"]

    assert devices["device_id"].is_unique().all()
    assert set(per_person.unique()) == {1, 2, 3}
    assert devices["person_id"].n_unique() == PEOPLE
    owners = events.join(devices, on="device_id", how="left", suffix="_device")
    assert (owners["person_id"] == owners["person_id_device"]).all()


def test_anonymous_devices_log_in_on_a_later_day(world: list[Day]) -> None:
    first = (
        _first_copies(world[0])
        .group_by("device_id")
        .agg(anonymous=pl.col("customer_id").is_null().all())
    )
    later = pl.concat([_first_copies(d) for d in world[1:]]).filter(
        pl.col("customer_id").is_not_null()
    )

    anonymous_then_known = first.filter("anonymous").join(later, on="device_id", how="semi")
    assert anonymous_then_known.height > 10


def test_truth_covers_every_distinct_event_once(world: list[Day], truth: pl.DataFrame) -> None:
    emitted = pl.concat([d.events for d in world])["event_id"].unique()

    assert truth["source"].unique().to_list() == ["clickstream"]
    assert truth["source_record_id"].is_unique().all()
    assert set(truth["source_record_id"]) == set(emitted)
    assert truth["person_id"].is_not_null().all()


# --- Determinism and re-emission -----------------------------------------------------------


def test_same_seed_gives_byte_identical_records(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(seed=3)

    first = simulate(settings, 1_000, 2)
    second = simulate(settings.model_copy(update={"home": settings.home / "again"}), 1_000, 2)
    other = simulate(
        make_settings(seed=4).model_copy(update={"home": settings.home / "other"}), 1_000, 1
    )

    for a, b in zip(first, second, strict=True):
        assert a.events["payload"].to_list() == b.events["payload"].to_list()
        assert a.emission.datasets == b.emission.datasets
        assert a.emission.truth.equals(b.emission.truth)
    assert set(other[0].events["event_id"]).isdisjoint(first[0].events["event_id"])


def test_emitting_a_day_again_puts_nothing_twice(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(seed=5)
    people = generate_people(1_000, seed=5)
    ctx = DayContext(0, settings, people, NO_EVENTS)
    CrmSource().emit(ctx)
    monkeypatch.setattr(clickstream, "PUT_CHUNK", 100)
    real_open = clickstream.open_stream
    puts = 0

    def crash_on_third_put(settings: Settings) -> Stream:
        stream = real_open(settings)
        put = stream.put_records

        def failing(records: list[tuple[str, bytes]]) -> object:
            nonlocal puts
            puts += 1
            if puts == 3:
                raise OSError("disk full")
            return put(records)

        stream.put_records = failing  # type: ignore[method-assign,assignment]
        return stream

    monkeypatch.setattr(clickstream, "open_stream", crash_on_third_put)
    with pytest.raises(OSError, match="disk full"):
        ClickstreamSource().emit(ctx)
    monkeypatch.setattr(clickstream, "open_stream", real_open)
    first = ClickstreamSource().emit(ctx)
    again = ClickstreamSource().emit(ctx)

    stream = open_stream(settings)
    payloads = [r.data.decode() for s in stream.shard_ids() for r in read_shard(stream, s)]
    assert first.datasets == again.datasets
    assert len(payloads) == first.datasets[0].rows
    assert events_checksum(pl.Series(payloads)) == first.datasets[0].checksum


def test_needs_the_crm_to_have_emitted_the_day(make_settings: Callable[..., Settings]) -> None:
    ctx = DayContext(0, make_settings(), generate_people(100, seed=1), NO_EVENTS)

    with pytest.raises(FileNotFoundError, match="emit the CRM family"):
        ClickstreamSource().emit(ctx)


# --- Faults and backends -------------------------------------------------------------------


def test_schema_drift_adds_a_field_on_the_fault_day(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(simulator={"faults": ["schema_drift"], "fault_day": 1})

    days = simulate(settings, 1_000, 2)

    assert "referrer" not in days[0].events.columns
    assert days[1].events.filter(pl.col("referrer").is_not_null()).height > 0
    assert days[1].events.filter(pl.col("referrer").is_null()).height > 0  # yesterday's late


def test_clock_skew_sets_some_devices_clocks_back_on_the_fault_day(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(simulator={"faults": ["clock_skew"], "fault_day": 1})
    plain = make_settings().model_copy(update={"home": settings.home / "plain"})

    skewed, honest = simulate(settings, 3_000, 2), simulate(plain, 3_000, 2)

    assert skewed[0].events.equals(honest[0].events)
    pairs = _first_copies(skewed[1]).join(_first_copies(honest[1]), on="event_id")
    devices = pairs.group_by("device_id").agg(
        behind=(
            pl.col("event_at_right").str.to_datetime(time_zone="UTC")
            - pl.col("event_at").str.to_datetime(time_zone="UTC")
        ).unique()
    )
    assert pairs.height == _first_copies(honest[1]).height
    # A device's clock is either right or a fixed time behind, all day.
    assert (devices["behind"].list.len() == 1).all()
    behind = devices["behind"].list.first()
    assert set(behind) == {timedelta(0), timedelta(milliseconds=clickstream.CLOCK_SKEW_MS)}
    assert (behind != timedelta(0)).mean() == pytest.approx(
        clickstream.CLOCK_SKEW_DEVICE_SHARE, abs=0.03
    )


@pytest.mark.integration
@pytest.mark.usefixtures("aws_credentials")
def test_the_clickstream_lands_on_a_kinesis_endpoint(
    make_settings: Callable[..., Settings], kinesis_endpoint: str
) -> None:
    settings = make_settings(
        sources={
            "stream": "kinesis",
            "stream_endpoint": kinesis_endpoint,
            "stream_name": f"test-{uuid.uuid4().hex[:12]}",
        }
    )

    days = simulate(settings, 1_000, 2)

    for day in days:
        emitted = {e.dataset: e for e in day.emission.datasets}
        assert emitted[DATASET].rows == day.events.height > 0
        assert emitted[DATASET].checksum == events_checksum(day.events["payload"])
