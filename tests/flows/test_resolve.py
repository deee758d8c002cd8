"""Resolve: a real lakehouse's staged records -> stable customer keys, golden records, key
history and accuracy against the simulator's truth."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings, load_settings
from catalog.factory import open_catalog
from catalog.reader import read_rows
from catalog.registry import ensure_table
from catalog.tables import ops, staging
from catalog.tables.definition import TableDef
from catalog.writer import write
from flows import resolve as resolve_flow
from flows.resolve import NEXT_KEY, STAGING_DEFS, ResolveOutcome, kept_model, resolve_lakehouse
from simulator.truth import read_records
from simulator.world import simulate
from tests.flows.lakehouse_days import ingest_everything, stage_everything
from transforms.identity.metrics import ALL, ALL_RECORDS, pairwise_metrics, with_singletons
from transforms.identity.probabilistic import RETRAIN_CHANGE
from transforms.identity.profiles import ANONYMOUS_DEVICE
from transforms.identity.records import STAGING_TABLES, identity_records
from transforms.identity.resolve import Resolution, resolve_identities

RECORD = ["source", "source_record_id"]
IDENTITY_TABLES = (
    staging.CUSTOMER_XREF,
    staging.CUSTOMER_GOLDEN,
    ops.IDENTITY_HISTORY,
    ops.IDENTITY_METRICS,
)
MATCH_RULES = {
    "exact_email",
    "exact_phone",
    "splink",
    "unmatched",
    "crm_id",
    "device_login",
    "order_reference",
    ANONYMOUS_DEVICE,
}
MIN_PRECISION, MIN_F1 = 0.99, 0.98


@dataclass(frozen=True)
class Lakehouse:
    """A home with simulated sources and the lakehouse catalog they were ingested into."""

    settings: Settings
    catalog: Catalog

    @property
    def truth_dir(self) -> Path:
        return self.settings.sources_dir / "truth"

    def rows(self, definition: TableDef) -> pl.DataFrame:
        return read_rows(self.catalog, definition)

    def snapshot_counts(self) -> dict[str, int]:
        return {
            t.identifier_name: len(ensure_table(self.catalog, t).snapshots())
            for t in IDENTITY_TABLES
        }

    def live_day(self, run_id: str) -> None:
        """Simulate the next day, then ingest and stage it."""
        simulate(self.settings, days=1)
        ingest_everything(self.settings, self.catalog, run_id)
        stage_everything(self.settings, self.catalog, run_id)

    def resolve(self, run_id: str) -> ResolveOutcome:
        return resolve_lakehouse(self.catalog, self.truth_dir, run_id=run_id)

    def metrics(self, run_id: str) -> dict[str, Any]:
        """The overall (`all`) metrics row the run `run_id` recorded."""
        rows = self.rows(ops.IDENTITY_METRICS).filter(
            pl.col("run_id") == run_id, pl.col("scope") == "all"
        )
        assert rows.height == 1, rows
        return rows.row(0, named=True)


def _lakehouse(home: Path, **overrides: object) -> Lakehouse:
    """Day 0 simulated, ingested and staged under `home`."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)  # so a developer's `.env` in the repo is not read
        settings = load_settings(home=home, **overrides)
    lakehouse = Lakehouse(settings, open_catalog(settings))
    simulate(settings)
    ingest_everything(settings, lakehouse.catalog, "day-0")
    stage_everything(settings, lakehouse.catalog, "day-0")
    return lakehouse


def _keys(xref: pl.DataFrame) -> pl.DataFrame:
    return xref.select(*RECORD, "customer_key")


def _staged_records(lakehouse: Lakehouse) -> pl.DataFrame:
    staged = {name: lakehouse.rows(STAGING_DEFS[name]) for name in STAGING_TABLES.values()}
    return identity_records(staged)


def _assert_accurate(metrics: dict[str, Any]) -> None:
    assert metrics["precision"] >= MIN_PRECISION, metrics
    assert metrics["f1"] >= MIN_F1, metrics


# --- A tiny world over two days ---------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A resolve run's outcome, the records it read and the xref and golden it left."""

    outcome: ResolveOutcome
    records: pl.DataFrame
    xref: pl.DataFrame
    golden: pl.DataFrame


def _resolved(lakehouse: Lakehouse, run_id: str) -> Resolved:
    records = _staged_records(lakehouse)
    outcome = lakehouse.resolve(run_id)
    return Resolved(
        outcome,
        records,
        lakehouse.rows(staging.CUSTOMER_XREF),
        lakehouse.rows(staging.CUSTOMER_GOLDEN),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Lakehouse:
    return _lakehouse(tmp_path_factory.mktemp("resolve-tiny"), scale="tiny")


@pytest.fixture(scope="module")
def day_0(tiny: Lakehouse) -> Resolved:
    return _resolved(tiny, "resolve-0")


@pytest.fixture(scope="module")
def day_1(tiny: Lakehouse, day_0: Resolved) -> Resolved:
    tiny.live_day("day-1")
    return _resolved(tiny, "resolve-1")


def test_the_first_resolution_gives_every_emitted_record_a_key_accurately(
    tiny: Lakehouse, day_0: Resolved
) -> None:
    xref, truth = day_0.xref, read_records(tiny.truth_dir)

    assert day_0.outcome.status == "resolved"
    assert xref.height == day_0.outcome.records > 0
    assert xref.select(RECORD).is_unique().all()
    assert xref.join(truth, on=RECORD, how="anti").is_empty()
    assert set(xref["match_rule"]) <= MATCH_RULES
    # Every staged record is resolved or counted as unresolved, none twice.
    unresolved = day_0.outcome.unresolved.height
    assert xref.height + unresolved == day_0.records.height
    # `all` measures the identified records; anonymous visitors count as unresolved.
    anonymous = (xref["match_rule"] == ANONYMOUS_DEVICE).sum()
    metrics = tiny.metrics("resolve-0")
    assert metrics["records"] == xref.height - anonymous
    assert metrics["unresolved"] == anonymous + unresolved
    _assert_accurate(metrics)


def test_the_first_resolution_gives_every_person_one_golden_record(day_0: Resolved) -> None:
    golden, xref = day_0.golden, day_0.xref

    assert golden["customer_key"].is_unique().all()
    assert set(golden["customer_key"]) == set(xref["customer_key"])
    assert golden.height == day_0.outcome.customers
    sizes = xref.group_by("customer_key").agg(source_records=pl.len().cast(pl.Int64))
    assert (
        golden.select("customer_key", "source_records")
        .sort("customer_key")
        .equals(sizes.sort("customer_key"))
    )


def test_resolving_with_nothing_new_staged_writes_nothing(tiny: Lakehouse, day_0: Resolved) -> None:
    before = tiny.snapshot_counts()

    outcome = tiny.resolve("resolve-again")

    assert outcome.status == "unchanged"
    assert outcome.writes == []
    assert tiny.snapshot_counts() == before


def test_keys_change_across_days_only_as_the_history_says(
    tiny: Lakehouse, day_0: Resolved, day_1: Resolved
) -> None:
    before = _keys(day_0.xref).rename({"customer_key": "old_key"})
    after = _keys(day_1.xref).rename({"customer_key": "new_key"})
    history = tiny.rows(ops.IDENTITY_HISTORY).filter(pl.col("run_id") == "resolve-1")

    assert day_1.outcome.status == "resolved"
    both = before.join(after, on=RECORD)
    moved = (
        both.filter(pl.col("old_key") != pl.col("new_key"))
        .group_by("old_key", "new_key")
        .agg(records=pl.len().cast(pl.Int64))
    )
    # Day 1's logins merge day 0's anonymous visitors into customers, at least.
    assert not moved.is_empty()
    # Every record that changed key is in a merge or split row, with the count that moved.
    changes = history.filter(pl.col("change").is_in(["merge", "split"]))
    assert set(moved.rows()) == set(changes.select("old_key", "new_key", "records").rows())
    # A key is retired exactly when none of its records is left.
    retired = history.filter(pl.col("change") == "retired")
    assert set(retired["old_key"]) == set(before["old_key"]) - set(both["old_key"])
    assert retired["new_key"].is_null().all()
    _assert_accurate(tiny.metrics("resolve-1"))


def test_a_key_is_never_issued_again_nor_given_to_another_person(
    tiny: Lakehouse, day_0: Resolved, day_1: Resolved
) -> None:
    truth = read_records(tiny.truth_dir)

    def persons(xref: pl.DataFrame) -> dict[int, str]:
        """Each key's person: the one most of its records belong to."""
        majority = (
            xref.join(truth, on=RECORD)
            .group_by("customer_key")
            .agg(pl.col("person_id").mode().sort().first())
        )
        return dict(majority.iter_rows())

    first, second = persons(day_0.xref), persons(day_1.xref)

    new = set(second) - set(first)
    assert all(key > max(first) for key in new)
    assert {key: second[key] for key in set(first) & set(second)} == {
        key: first[key] for key in set(first) & set(second)
    }


# --- Day by day, as a full resolution would ---------------------------------------------

LIVE_DAYS = 2


@dataclass(frozen=True)
class Day:
    """One day's resolve run, and a full resolution of the same staged state from the same
    prior keys and Splink model (what a replay of the run computes)."""

    run_id: str
    outcome: ResolveOutcome
    xref: pl.DataFrame
    golden: pl.DataFrame
    history: pl.DataFrame
    metrics: pl.DataFrame
    full: Resolution
    expected_metrics: pl.DataFrame
    models: pl.DataFrame  # ops.identity_models after the run


def _expected_metrics(full: Resolution, truth: pl.DataFrame) -> pl.DataFrame:
    """The metrics of `full` by their record-level definition (`resolution_metrics`)."""
    anonymous = full.xref.filter(pl.col("match_rule") == ANONYMOUS_DEVICE)
    left_out = pl.concat([anonymous.select(RECORD), full.unresolved])
    unresolved = {
        ALL: left_out.height,
        ALL_RECORDS: left_out.height,
        **dict(left_out.group_by("source").len().iter_rows()),
    }
    overall = pairwise_metrics(with_singletons(full.xref, full.unresolved), truth)
    return pl.concat(
        [
            pairwise_metrics(full.xref.join(anonymous, on=RECORD, how="anti"), truth),
            overall.filter(pl.col("scope") == ALL).with_columns(scope=pl.lit(ALL_RECORDS)),
        ]
    ).with_columns(
        unresolved=pl.col("scope").replace_strict(unresolved, default=0, return_dtype=pl.Int64)
    )


def _day(lakehouse: Lakehouse, run_id: str) -> Day:
    """Resolve, and resolve the same state in full from the xref as it stood, with the
    same model."""
    records = _staged_records(lakehouse)
    prior = _keys(lakehouse.rows(staging.CUSTOMER_XREF))
    snapshot = ensure_table(lakehouse.catalog, staging.CUSTOMER_XREF).current_snapshot()
    next_key = int(snapshot.summary[NEXT_KEY]) if snapshot and snapshot.summary else 1
    outcome = lakehouse.resolve(run_id)
    # The Splink model the run kept or trained, as its replay restores it.
    full = resolve_identities(records, prior, next_key, model=kept_model(lakehouse.catalog))
    ran = pl.col("run_id") == run_id
    return Day(
        run_id,
        outcome,
        lakehouse.rows(staging.CUSTOMER_XREF),
        lakehouse.rows(staging.CUSTOMER_GOLDEN),
        lakehouse.rows(ops.IDENTITY_HISTORY).filter(ran).drop("run_id", "recorded_at"),
        lakehouse.rows(ops.IDENTITY_METRICS).filter(ran).drop("run_id", "measured_at"),
        full,
        _expected_metrics(full, read_records(lakehouse.truth_dir)),
        lakehouse.rows(ops.IDENTITY_MODELS),
    )


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Day]:
    """A tiny world resolved on day 0 and on each of `LIVE_DAYS` live days after it."""
    lakehouse = _lakehouse(tmp_path_factory.mktemp("resolve-days"), scale="tiny")
    resolved = [_day(lakehouse, "resolve-0")]
    for day in range(1, LIVE_DAYS + 1):
        lakehouse.live_day(f"day-{day}")
        resolved.append(_day(lakehouse, f"resolve-{day}"))
    return resolved


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_each_days_resolution_equals_a_full_resolution_of_the_same_state(
    days: list[Day],
) -> None:
    for day in days:
        assert day.outcome.status == "resolved", day.run_id
        assert _sorted(day.xref).equals(_sorted(day.full.xref)), day.run_id
        assert day.golden.sort("customer_key").equals(day.full.golden), day.run_id
        assert _sorted(day.history).equals(_sorted(day.full.history)), day.run_id
        assert day.outcome.unresolved.sort(RECORD).equals(day.full.unresolved), day.run_id
        expected = day.expected_metrics.select(day.metrics.columns)
        assert day.metrics.equals(expected), day.run_id


def test_a_splink_model_is_kept_from_day_to_day_until_the_profiles_change(
    days: list[Day],
) -> None:
    assert days[0].outcome.trained
    for before, day in itertools.pairwise(days):
        assert day.outcome.model is not None
        assert before.outcome.model is not None
        if day.outcome.trained:
            assert day.outcome.model != before.outcome.model
            change = abs(day.outcome.model.profiles - before.outcome.model.profiles)
            assert change > RETRAIN_CHANGE * before.outcome.model.profiles
        else:
            assert day.outcome.model == before.outcome.model
    trained = [d.run_id for d in days if d.outcome.trained]
    assert days[-1].models.sort("trained_at")["run_id"].to_list() == trained
    assert len(trained) < len(days)


def test_each_day_writes_the_xref_whole_and_only_some_rows_change(
    days: list[Day],
) -> None:
    # The days' logins and new records merge earlier persons: some events change keys.
    assert any((day.history["change"] == "merge").any() for day in days[1:])
    for before, day in itertools.pairwise(days):
        written = day.outcome.writes[-1]
        assert written.table == "staging.customer_xref"
        assert written.rows == day.xref.height
        changed = day.xref.join(before.xref, on=day.xref.columns, how="anti", nulls_equal=True)
        assert 0 < changed.height < day.xref.height, day.run_id


# --- A crash before the xref commit -----------------------------------------------------


@dataclass(frozen=True)
class Crash:
    """A tiny lakehouse whose resolution crashed before committing the xref, then re-ran."""

    lakehouse: Lakehouse
    moved: tuple[str, str]  # the record made to split off its person
    prior_xref: pl.DataFrame  # before the crashed run
    after_crash: dict[str, pl.DataFrame]  # every identity table just after the crash
    rerun: ResolveOutcome


def _split_off_a_loyalty_member(lakehouse: Lakehouse, xref: pl.DataFrame) -> tuple[str, str]:
    """Give one loyalty member of a person with several records contact details nobody
    else has, so the next resolution splits it off into a new person."""
    sizes = xref.group_by("customer_key").len()
    member = (
        xref.filter(pl.col("source") == "loyalty")
        .join(sizes.filter(pl.col("len") >= 3), on="customer_key")
        .sort("source_record_id")
        .row(0, named=True)["source_record_id"]
    )
    members = lakehouse.rows(staging.VENDOR_LOYALTY_MEMBERS)
    changed = pl.col("member_id") == member
    members = members.with_columns(
        **{
            column: pl.when(changed).then(pl.lit(value)).otherwise(column)
            for column, value in {
                "first_name": "Zebulon",
                "last_name": "Quarternion",
                "email": "zebulon.quarternion@nowhere.example",
                "phone": None,
            }.items()
        }
    )
    write(
        lakehouse.catalog,
        staging.VENDOR_LOYALTY_MEMBERS,
        members,
        batch_id="split-off-a-member",
        run_id="test",
        mode="overwrite",
    )
    return "loyalty", member


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    lakehouse = _lakehouse(tmp_path_factory.mktemp("resolve-crash"), scale="tiny")
    lakehouse.resolve("resolve-0")
    prior_xref = lakehouse.rows(staging.CUSTOMER_XREF)
    moved = _split_off_a_loyalty_member(lakehouse, prior_xref)
    real_write = resolve_flow.write

    def crash_on_xref(catalog: Catalog, definition: TableDef, *args: Any, **kw: Any) -> Any:
        if definition is staging.CUSTOMER_XREF:
            raise OSError("disk gone")
        return real_write(catalog, definition, *args, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolve_flow, "write", crash_on_xref)
        with pytest.raises(OSError, match="disk gone"):
            lakehouse.resolve("crashed")
    after_crash = {t.identifier_name: lakehouse.rows(t) for t in IDENTITY_TABLES}
    return Crash(lakehouse, moved, prior_xref, after_crash, lakehouse.resolve("re-run"))


def test_a_crash_before_the_xref_commit_is_finished_by_the_rerun_without_duplicates(
    crash: Crash,
) -> None:
    lakehouse, after_crash = crash.lakehouse, crash.after_crash

    # The crash left the xref as it was; golden, history and metrics had committed.
    assert after_crash["staging.customer_xref"].equals(crash.prior_xref)
    crashed_history = after_crash["ops.identity_history"].filter(pl.col("run_id") == "crashed")
    assert not crashed_history.is_empty()
    assert (after_crash["ops.identity_metrics"]["run_id"] == "crashed").any()
    # The re-run resolved the same state: it wrote the xref and nothing twice.
    assert crash.rerun.status == "resolved"
    assert {w.table: w.skipped for w in crash.rerun.writes} == {
        "ops.identity_history": True,
        "staging.customer_golden": True,
        "ops.identity_metrics": True,
        "staging.customer_xref": False,
    }
    for table in (ops.IDENTITY_HISTORY, ops.IDENTITY_METRICS):
        name = table.identifier_name
        assert lakehouse.rows(table).equals(after_crash[name]), name
    metrics = lakehouse.rows(ops.IDENTITY_METRICS)
    assert metrics.select("run_id", "scope").is_unique().all()
    assert set(metrics["run_id"]) == {"resolve-0", "crashed"}
    # The split-off member now has a key of its own.
    xref = lakehouse.rows(staging.CUSTOMER_XREF)
    key = xref.filter(pl.col("source_record_id") == crash.moved[1])["customer_key"].item()
    old_key = crash.prior_xref.filter(pl.col("source_record_id") == crash.moved[1])[
        "customer_key"
    ].item()
    assert key != old_key
    assert (xref["customer_key"] == key).sum() == 1
    assert lakehouse.resolve("re-run-again").status == "unchanged"


def test_a_rerun_after_a_crash_gives_new_persons_the_keys_history_and_golden_name(
    crash: Crash,
) -> None:
    lakehouse = crash.lakehouse
    xref_keys = set(lakehouse.rows(staging.CUSTOMER_XREF)["customer_key"])
    history = lakehouse.rows(ops.IDENTITY_HISTORY)

    assert set(history["new_key"].drop_nulls()) <= xref_keys
    assert set(lakehouse.rows(staging.CUSTOMER_GOLDEN)["customer_key"]) == xref_keys


# --- Accuracy at scale ------------------------------------------------------------------


def test_resolution_is_accurate_at_small_scale(tmp_path: Path) -> None:
    lakehouse = _lakehouse(tmp_path, scale="small")

    outcome = lakehouse.resolve("resolve-small")

    assert outcome.status == "resolved"
    assert outcome.customers > 15_000
    _assert_accurate(lakehouse.metrics("resolve-small"))
