"""The simulated world: emitted once per home, reproducible, and its truth matches the sources."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from c360.settings import Settings, load_settings
from simulator import crm
from simulator.emitters.database import connect, read_rows
from simulator.population import generate_people
from simulator.truth import (
    MANIFEST_FILE,
    RECORDS_FILE,
    frame_checksum,
    read_manifest,
    read_records,
)
from simulator.world import STATE_FILE, WorldMismatchError, simulate

TRUTH_FILES = (RECORDS_FILE, MANIFEST_FILE)


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


def _source_rows(settings: Settings) -> pl.DataFrame:
    url = settings.resolved_sources().crm_url
    assert url
    engine = connect(url)
    try:
        return read_rows(engine, crm.CUSTOMERS)
    finally:
        engine.dispose()


def _truth_bytes(settings: Settings) -> dict[str, bytes]:
    truth = settings.sources_dir / "truth"
    return {name: (truth / name).read_bytes() for name in TRUTH_FILES}


def test_simulate_emits_the_crm_customers(tiny: Settings) -> None:
    report = simulate(tiny)

    expected = crm.crm_customers(generate_people(tiny.people, tiny.seed), tiny.seed)
    source = _source_rows(tiny)
    assert report.day == 0
    assert not report.already_emitted
    assert report.emitted == {"crm.customers": expected.height}
    # The CRM holds every customer but not the hidden person id; timestamps are naive UTC.
    assert source.equals(
        expected.drop("person_id").with_columns(pl.col("updated_at").dt.replace_time_zone(None))
    )
    state = json.loads((tiny.sources_dir / STATE_FILE).read_text())
    assert state == {"seed": 42, "scale": "tiny", "people": 1_000, "day": 0}


def test_simulate_twice_emits_once(tiny: Settings) -> None:
    first = simulate(tiny)
    url = tiny.resolved_sources().crm_url
    assert url
    engine = connect(url)
    with engine.begin() as conn:
        # A change made in the CRM since: a re-emission would overwrite it.
        conn.execute(
            crm.CUSTOMERS.update()
            .where(crm.CUSTOMERS.c.customer_id == "C00000001")
            .values(email="changed@example.com")
        )
    engine.dispose()

    second = simulate(tiny)

    assert second.already_emitted
    assert (second.day, second.emitted) == (first.day, first.emitted)
    source = _source_rows(tiny)
    assert source.height == first.emitted["crm.customers"]
    assert source.row(0, named=True)["email"] == "changed@example.com"


def test_another_seed_on_the_same_home_is_refused(
    make_settings: Callable[..., Settings],
) -> None:
    simulate(make_settings(scale="tiny", seed=42))
    home = make_settings(scale="tiny", seed=42)
    before_rows, before_truth = _source_rows(home), _truth_bytes(home)

    with pytest.raises(WorldMismatchError, match=r"seed 42 at scale tiny.*c360 reset"):
        simulate(make_settings(scale="tiny", seed=43))

    assert _source_rows(home).equals(before_rows)
    assert _truth_bytes(home) == before_truth


def test_same_seed_writes_identical_truth_files(home_settings: Callable[..., Settings]) -> None:
    first, second, other = home_settings("a"), home_settings("b"), home_settings("c", seed=43)
    for settings in (first, second, other):
        simulate(settings)

    assert _truth_bytes(first) == _truth_bytes(second)
    assert _source_rows(first).equals(_source_rows(second))
    other_truth = _truth_bytes(other)
    for name in TRUTH_FILES:
        assert other_truth[name] != _truth_bytes(first)[name], name


def test_truth_records_cover_every_emitted_crm_row(tiny: Settings) -> None:
    simulate(tiny)

    records = read_records(tiny.sources_dir / "truth")
    source = _source_rows(tiny)
    crm_records = records.filter(pl.col("source") == "crm")
    joined = source.join(
        crm_records,
        left_on="customer_id",
        right_on="source_record_id",
        how="full",
        validate="1:1",
        coalesce=True,
    )
    assert records["source"].unique().to_list() == ["crm"]
    assert joined.height == source.height == crm_records.height
    assert joined["person_id"].null_count() == 0
    assert joined["first_name"].null_count() == 0
    # Each record points at the person the simulator derived it from.
    expected = crm.crm_customers(generate_people(tiny.people, tiny.seed), tiny.seed)
    assert (
        joined.select("customer_id", "person_id")
        .sort("customer_id")
        .equals(expected.select("customer_id", "person_id"))
    )


def test_manifest_matches_the_source_database(tiny: Settings) -> None:
    simulate(tiny)

    manifest = read_manifest(tiny.sources_dir / "truth")
    source = _source_rows(tiny).with_columns(pl.col("updated_at").dt.replace_time_zone("UTC"))
    assert manifest.select("day", "source", "rows").to_dicts() == [
        {"day": 0, "source": "crm.customers", "rows": source.height}
    ]
    assert manifest["checksum"].item() == frame_checksum(source, "customer_id")
    assert source.height > 0


def test_manifest_checksum_ignores_row_order() -> None:
    frame = pl.DataFrame({"id": ["b", "a", "c"], "value": [2, 1, 3]})

    assert frame_checksum(frame, "id") == frame_checksum(frame.reverse(), "id")
    assert frame_checksum(frame, "id") != frame_checksum(frame.head(2), "id")


def test_sources_are_a_sqlite_file_under_home(tiny: Settings) -> None:
    simulate(tiny)

    engine = sa.create_engine(f"sqlite:///{tiny.sources_dir / 'crm.db'}")
    with engine.connect() as conn:
        count = conn.execute(sa.text("select count(*) from customers")).scalar_one()
    engine.dispose()
    assert count == _source_rows(tiny).height
