"""The simulated world: advanced day by day, reproducible to the byte, each day carrying only
its own changes, resumable after a crash, and its ground truth covering every record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from c360.settings import Settings, load_settings
from simulator import population, world
from simulator.clock import day_start
from simulator.context import DayContext, Emission
from simulator.emitters.database import connect, read_rows
from simulator.emitters.stream import open_stream, read_shard
from simulator.population import generate_people
from simulator.sources import crm
from simulator.truth import frame_checksum, read_manifest, read_records
from simulator.world import (
    FAMILIES,
    STATE_FILE,
    WorldMismatchError,
    check_world,
    simulate,
)
from tests.flows.crm_source import crm_rows, crm_url, source_rows

NO_EVENTS = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})
# Outputs compared by content, not bytes: a database file's pages may differ for equal rows,
# and the stream's log stamps each record with its wall-clock arrival time.
DATABASE_SUFFIXES = (".db", ".db-journal", ".db-wal", ".db-shm")
STREAM_DIR = "stream"


@pytest.fixture
def tiny(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(scale="tiny")


@pytest.fixture
def home_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Tiny-scale settings for a named home under the test's folder."""
    monkeypatch.chdir(tmp_path)

    def make(name: str, seed: int = 42) -> Settings:
        return load_settings(home=tmp_path / name, scale="tiny", seed=seed)

    return make


@pytest.fixture
def busy_crm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough churn and sign-ups that a tiny world deletes and inserts customers daily."""
    monkeypatch.setitem(population.DAILY_RATES, "churn", 0.01)
    monkeypatch.setattr(crm, "DAILY_SIGNUP_RATE", 0.05)


def _database_rows(settings: Settings) -> dict[str, pl.DataFrame]:
    """Every row of every table in every source database of the home, by `db.table`."""
    rows = {}
    for path in sorted(settings.sources_dir.glob("*.db")):
        engine = sa.create_engine(f"sqlite:///{path}")
        try:
            metadata = sa.MetaData()
            metadata.reflect(engine)
            for table in metadata.sorted_tables:
                rows[f"{path.stem}.{table.name}"] = read_rows(engine, table)
        finally:
            engine.dispose()
    return rows


def _stream_records(settings: Settings) -> list[tuple[str, str, str, bytes]]:
    """Every record on the stream, all but its arrival time."""
    stream = open_stream(settings)
    try:
        return [
            (r.shard_id, r.sequence_number, r.partition_key, r.data)
            for shard in stream.shard_ids()
            for r in read_shard(stream, shard)
        ]
    finally:
        stream.close()


def _file_bytes(settings: Settings, under: str = "") -> dict[str, bytes]:
    """Every file the world wrote under `sources/<under>` but databases and the stream."""
    root = settings.sources_dir / under
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not path.name.endswith(DATABASE_SUFFIXES)
        and path.relative_to(settings.sources_dir).parts[0] != STREAM_DIR
    }


def _truth_bytes(settings: Settings) -> dict[str, bytes]:
    return _file_bytes(settings, "truth")


def _assert_same_world(first: Settings, second: Settings) -> None:
    first_rows, second_rows = _database_rows(first), _database_rows(second)
    assert first_rows.keys() == second_rows.keys()
    assert f"crm.{crm.CUSTOMERS.name}" in first_rows
    for name, rows in first_rows.items():
        assert rows.equals(second_rows[name]), name
    assert _stream_records(first) == _stream_records(second)
    first_files, second_files = _file_bytes(first), _file_bytes(second)
    assert first_files.keys() == second_files.keys()
    for name, content in first_files.items():
        assert content == second_files[name], name


def _crm_manifest(settings: Settings) -> pl.DataFrame:
    return read_manifest(settings.sources_dir / "truth").filter(pl.col("source") == crm.NAME)


# --- day 0 -------------------------------------------------------------------------------


def test_simulate_emits_the_crm_customers(tiny: Settings) -> None:
    report = simulate(tiny)

    ctx = DayContext(0, tiny, generate_people(tiny.people, tiny.seed), NO_EVENTS)
    expected = crm.initial_customers(ctx)
    source = crm_rows(tiny)
    assert report.day == 0
    assert report.days_emitted == [0]
    assert not report.already_emitted
    assert report.emitted[crm.NAME] == expected.height
    # The CRM holds every customer but not the hidden person id; timestamps are naive UTC.
    assert source.equals(
        expected.drop("person_id").with_columns(pl.col("updated_at").dt.replace_time_zone(None))
    )
    state = json.loads((tiny.sources_dir / STATE_FILE).read_text())
    assert state == {"seed": 42, "scale": "tiny", "people": 1_000, "day": 0}


def test_sources_are_a_sqlite_file_under_home(tiny: Settings) -> None:
    simulate(tiny)

    engine = sa.create_engine(f"sqlite:///{tiny.sources_dir / 'crm.db'}")
    with engine.connect() as conn:
        count = conn.execute(sa.text("select count(*) from customers")).scalar_one()
    engine.dispose()
    assert count == crm_rows(tiny).height > 0


def test_manifest_matches_the_source_database(tiny: Settings) -> None:
    simulate(tiny)

    manifest = _crm_manifest(tiny)
    source = source_rows(tiny)
    assert manifest.select("day", "source", "dataset", "rows", "deletes").to_dicts() == [
        {"day": 0, "source": "crm", "dataset": crm.DATASET, "rows": source.height, "deletes": 0}
    ]
    assert manifest["checksum"].item() == frame_checksum(source, "customer_id")
    assert source.height > 0


def test_every_family_emits_every_day_in_order(tiny: Settings) -> None:
    started: list[int] = []

    report = simulate(tiny, days=2, on_day=started.append)

    manifest = read_manifest(tiny.sources_dir / "truth")
    assert started == report.days_emitted == [0, 1, 2]
    assert sorted(manifest["source"].unique()) == sorted(f.name for f in FAMILIES)
    per_day = manifest.group_by("day").agg(pl.col("source").unique().sort())
    assert per_day.height == 3
    assert per_day["source"].to_list() == [sorted(f.name for f in FAMILIES)] * 3
    # The report adds up the rows the manifest says each family emitted over the days.
    totals = manifest.group_by("source").agg(pl.col("rows").sum())
    assert report.emitted == dict(zip(totals["source"], totals["rows"], strict=True))


# --- an existing world --------------------------------------------------------------------


def test_no_days_on_an_existing_world_emits_nothing(tiny: Settings) -> None:
    simulate(tiny, days=1)
    engine = connect(crm_url(tiny))
    with engine.begin() as conn:
        # A change made in the CRM since: a re-emission would overwrite it.
        conn.execute(
            crm.CUSTOMERS.update()
            .where(crm.CUSTOMERS.c.customer_id == "C00000001")
            .values(email="changed@example.com")
        )
    engine.dispose()
    truth = _truth_bytes(tiny)

    again = simulate(tiny)

    assert again.already_emitted
    assert (again.day, again.days_emitted, again.emitted) == (1, [], {})
    assert crm_rows(tiny).row(0, named=True)["email"] == "changed@example.com"
    assert _truth_bytes(tiny) == truth
    assert check_world(tiny) == world.WorldState(42, "tiny", 1_000, 1)


def test_more_days_continue_from_the_current_day(tiny: Settings) -> None:
    simulate(tiny, days=1)

    report = simulate(tiny, days=2)

    assert (report.day, report.days_emitted) == (3, [2, 3])
    manifest = read_manifest(tiny.sources_dir / "truth")
    assert sorted(manifest["day"].unique()) == [0, 1, 2, 3]
    later = manifest.filter(pl.col("day") >= 2).group_by("source").agg(pl.col("rows").sum())
    assert report.emitted == dict(zip(later["source"], later["rows"], strict=True))


@pytest.mark.parametrize(("seed", "scale"), [(43, "tiny"), (42, "small")])
def test_another_seed_or_scale_on_the_same_home_is_refused(
    make_settings: Callable[..., Settings], seed: int, scale: str
) -> None:
    home = make_settings(scale="tiny", seed=42)
    simulate(home)
    before_rows, before_truth = crm_rows(home), _truth_bytes(home)

    with pytest.raises(WorldMismatchError, match=r"seed 42 at scale tiny.*c360 reset"):
        simulate(make_settings(scale=scale, seed=seed), days=1)

    assert crm_rows(home).equals(before_rows)
    assert _truth_bytes(home) == before_truth


# --- determinism --------------------------------------------------------------------------


def test_same_seed_gives_the_same_world_over_days(home_settings: Callable[..., Settings]) -> None:
    first, second, other = home_settings("a"), home_settings("b"), home_settings("c", seed=43)
    for settings in (first, second, other):
        simulate(settings, days=2)

    _assert_same_world(first, second)
    first_truth, other_truth = _truth_bytes(first), _truth_bytes(other)
    assert first_truth.keys() == other_truth.keys()
    assert len([n for n in first_truth if n.startswith("manifest/")]) == 3
    for name in first_truth:
        if not name.startswith("life_events/"):  # a quiet tiny day may have no events at all
            assert other_truth[name] != first_truth[name], name


def test_one_day_at_a_time_is_the_same_as_all_at_once(
    home_settings: Callable[..., Settings],
) -> None:
    stepwise, at_once = home_settings("stepwise"), home_settings("at-once")
    simulate(stepwise)
    for _ in range(3):
        simulate(stepwise, days=1)

    simulate(at_once, days=3)

    _assert_same_world(stepwise, at_once)


class _CrashError(RuntimeError):
    pass


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_a_crash_mid_day_then_a_rerun_gives_the_uninterrupted_world(
    home_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    straight, crashed = home_settings("straight"), home_settings("crashed")
    simulate(straight, days=3)
    kind = type(next(f for f in FAMILIES if f.name == family))
    emit = kind.emit

    def emit_then_crash(self: object, ctx: DayContext) -> Emission:
        # The family has written its day into the source system and saved its state.
        emission = emit(self, ctx)  # type: ignore[arg-type]
        if ctx.day == 2:
            raise _CrashError(f"{family} crashed on day 2")
        return emission

    with monkeypatch.context() as patch:
        patch.setattr(kind, "emit", emit_then_crash)
        with pytest.raises(_CrashError):
            simulate(crashed, days=3)
    state = check_world(crashed)
    assert state is not None
    assert state.day == 1
    assert not (crashed.sources_dir / "truth" / "manifest" / "day=0002.parquet").exists()

    report = simulate(crashed, days=2)

    assert report.days_emitted == [2, 3]
    _assert_same_world(straight, crashed)


# --- each day carries only its own changes -------------------------------------------------


@pytest.mark.usefixtures("busy_crm")
def test_each_day_carries_only_that_days_changes(tiny: Settings) -> None:
    simulate(tiny)
    before = crm_rows(tiny)
    for day in (1, 2, 3):
        simulate(tiny, days=1)

        after = source_rows(tiny)
        manifest = _crm_manifest(tiny).filter(pl.col("day") == day)
        today = after.filter(pl.col("updated_at") >= day_start(day))
        gone = set(before["customer_id"]) - set(after["customer_id"])
        born = set(after["customer_id"]) - set(before["customer_id"])
        records = pl.read_parquet(tiny.sources_dir / "truth" / "records" / f"day={day:04d}.parquet")

        assert manifest["rows"].item() == today.height > 0, day
        assert manifest["checksum"].item() == frame_checksum(today, "customer_id"), day
        assert manifest["deletes"].item() == len(gone) > 0, day
        # The day's truth records are exactly the customers it created.
        assert set(records.filter(pl.col("source") == crm.NAME)["source_record_id"]) == born
        assert born, day
        assert born <= set(today["customer_id"])
        before = after


@pytest.mark.usefixtures("busy_crm")
def test_ground_truth_covers_every_crm_record_ever_emitted(tiny: Settings) -> None:
    ever: set[str] = set()
    simulate(tiny)
    ever |= set(crm_rows(tiny)["customer_id"])
    for _ in range(3):
        simulate(tiny, days=1)
        ever |= set(crm_rows(tiny)["customer_id"])

    records = read_records(tiny.sources_dir / "truth").filter(pl.col("source") == crm.NAME)
    assert records["source_record_id"].is_unique().all()
    assert set(records["source_record_id"]) == ever
    assert records["person_id"].null_count() == 0
    # Deleted customers keep their truth; the live ones map to the person the CRM knows.
    assert len(ever) > crm_rows(tiny).height
    state = DayContext(4, tiny, pl.DataFrame(), NO_EVENTS).load_state(crm.NAME)
    assert state is not None
    mapped = records.select(customer_id="source_record_id", truth_person_id="person_id")
    live = state.join(mapped, on="customer_id", how="left", validate="1:1")
    assert live.height > 0
    assert live["person_id"].equals(live["truth_person_id"], check_names=False)
    assert set(records["person_id"]) <= set(generate_people(tiny.people, tiny.seed)["person_id"])


def test_truth_maps_day_zero_customers_to_their_people(tiny: Settings) -> None:
    simulate(tiny)

    records = read_records(tiny.sources_dir / "truth").filter(pl.col("source") == crm.NAME)
    ctx = DayContext(0, tiny, generate_people(tiny.people, tiny.seed), NO_EVENTS)
    expected = crm.initial_customers(ctx).select(
        source_record_id="customer_id", person_id="person_id"
    )
    assert records.select("source_record_id", "person_id").sort("source_record_id").equals(expected)
