"""Building a serving copy from the one in place: the customers whose rows changed are
rewritten, and the copy holds exactly what a full build of the same rows holds; where the
copy in place cannot be built on, the build is a full one; a build that fails midway leaves
the copy in place as it was."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from api.serving_copy import (
    DAY_COUNTS,
    SERVED,
    CuratedSnapshot,
    PreviousRows,
    SnapshotRef,
    build_serving_copy,
    publish_serving_copy,
    read_curated,
    read_previous,
    serving_path,
)
from api.store import ServingStore
from bench.workloads.api_lookup import synthetic_curated
from c360.settings import Settings
from catalog.writer import content_batch_id, write

LIMIT = 2  # timelines cut to the newest two, so a customer with new sessions loses old ones
BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
AFTER = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def day_one() -> CuratedSnapshot:
    return CuratedSnapshot(
        synthetic_curated(200, seed=5).tables,
        {name: SnapshotRef(1, BEFORE) for name in SERVED},
    )


def _frames(curated: CuratedSnapshot) -> dict[str, pl.DataFrame]:
    frames = {}
    for name, table in curated.tables.items():
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        frames[name] = frame
    return frames


def _fit(name: str, frame: pl.DataFrame) -> pa.Table:
    definition = SERVED[name]
    return frame.select(definition.column_names).to_arrow().cast(definition.schema().as_arrow())


def _owners(frame: pl.DataFrame) -> list[int]:
    return frame["customer_key"].drop_nulls().unique().sort().to_list()


def next_day(
    day: CuratedSnapshot, *, every_profile: bool = True
) -> tuple[CuratedSnapshot, set[int]]:
    """`day` one day on, and the customers whose rows that day changes: a few change as a
    day changes them (new, merged, leaving, moving house, new activity, a new email), and,
    with `every_profile`, every profile's day counts move on."""
    t = _frames(day)
    key = pl.col("customer_key")
    with_sessions, with_orders = _owners(t["fct_sessions"]), _owners(t["fct_orders"])
    merged, into = with_sessions[0], with_orders[0]
    leaving, moving, busy, renamed = with_sessions[1], 10, with_sessions[2], 5
    ticket, ticket_owner = t["fct_support_tickets"].row(0)[:2]
    c360, dim = t["customer_360"], t["dim_customer"]
    newcomer = c360.filter(key == 1).with_columns(
        customer_key=pl.lit(201),
        email=pl.lit("new@example.com"),
        emails=pl.lit("new@example.com"),
        source_ids=pl.lit("crm:C00000201"),
    )
    c360 = (
        pl.concat([c360, newcomer.cast(c360.schema)])
        .filter(~key.is_in([merged, leaving]))
        .with_columns(
            emails=pl.when(key == renamed)
            .then(pl.col("emails") + ",second@example.org")
            .otherwise(pl.col("emails")),
        )
    )
    if every_profile:
        c360 = c360.with_columns(pl.col(*DAY_COUNTS) + 1)
    moved = dim.filter((key == moving) & pl.col("is_current")).with_columns(
        customer_version_id=pl.lit("moved"), city=pl.lit("Capital City"), valid_from=pl.lit(AFTER)
    )
    only_in_dim = dim.filter(key == 1).with_columns(
        customer_key=pl.lit(300), customer_version_id=pl.lit("v300-0")
    )
    dim = pl.concat(
        [
            dim.with_columns(
                valid_to=pl.when(key == moving).then(pl.lit(AFTER)).otherwise("valid_to"),
                is_current=pl.when(key == moving).then(False).otherwise("is_current"),
            ).filter(key != merged),
            moved.cast(dim.schema),
            only_in_dim.cast(dim.schema),
        ]
    )
    sessions = t["fct_sessions"]
    new_sessions = pl.concat([sessions.filter(key == busy).head(1)] * 3).with_columns(
        session_id=pl.Series([f"new-{i}" for i in range(3)]),
        started_at=pl.Series([AFTER.replace(hour=h) for h in range(3)]),
    )
    reassigned = pl.when(key == merged).then(into).otherwise(key).alias("customer_key")
    tables = {
        "customer_360": c360,
        "dim_customer": dim,
        "fct_orders": t["fct_orders"].with_columns(reassigned),
        "fct_sessions": pl.concat([sessions, new_sessions.cast(sessions.schema)]).with_columns(
            reassigned
        ),
        "fct_support_tickets": t["fct_support_tickets"].with_columns(
            is_open=pl.when(pl.col("ticket_id") == ticket).then(False).otherwise("is_open")
        ),
    }
    changed = {merged, into, leaving, moving, busy, renamed, ticket_owner, 201, 300}
    return (
        CuratedSnapshot(
            {name: _fit(name, frame) for name, frame in tables.items()},
            {name: SnapshotRef(2, AFTER) for name in SERVED},
        ),
        changed,
    )


def since(day: CuratedSnapshot, later: CuratedSnapshot) -> PreviousRows:
    """`day`'s rows as `read_previous` gives them to a build of `later`."""
    return PreviousRows(
        day.snapshots,
        {
            name: rows
            for name, rows in day.tables.items()
            if later.snapshots[name] != day.snapshots[name]
        },
    )


def contents(path: Path) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Every row of the copy's tables, and its meta but for the build's own id and time."""
    with closing(sqlite3.connect(path)) as con:
        tables = {
            table: con.execute(f"select * from {table} order by 1, 2, 3").fetchall()
            for table in ("customers", "identifiers")
        }
        meta = {
            name: json.loads(value)
            for name, value in con.execute("select name, value from meta")
            if name not in ("version", "built_at")
        }
    return tables, meta


def built_afresh(curated: CuratedSnapshot, folder: Path) -> Path:
    info = build_serving_copy(curated, folder / "afresh" / "c.sqlite", timeline_limit=LIMIT)
    assert info.rewritten is None
    return info.path


@pytest.mark.parametrize("every_profile", [False, True])
def test_a_copy_built_on_the_previous_one_equals_a_full_build(
    every_profile: bool, day_one: CuratedSnapshot, tmp_path: Path
) -> None:
    path = tmp_path / "copy" / "customers.sqlite"
    build_serving_copy(day_one, path, timeline_limit=LIMIT)
    day_two, changed = next_day(day_one, every_profile=every_profile)

    info = build_serving_copy(day_two, path, timeline_limit=LIMIT, previous=since(day_one, day_two))

    assert contents(path) == contents(built_afresh(day_two, tmp_path))
    # Only the changed customers' documents were rewritten: day counts moving on rewrite
    # none (the copy keeps the days they count from), yet the profiles served have the new
    # ones.
    assert info.rewritten == len(changed)
    assert sorted(p.name for p in path.parent.iterdir()) == ["customers.sqlite"]
    served = ServingStore(path).current()
    for row in _frames(day_two)["customer_360"].iter_rows(named=True):
        profile = json.loads(served.document("profile", row["customer_key"]) or b"")
        assert {k: profile[k] for k in DAY_COUNTS} == {k: row[k] for k in DAY_COUNTS}


def test_a_day_that_changes_nothing_rewrites_nothing(
    day_one: CuratedSnapshot, tmp_path: Path
) -> None:
    path = tmp_path / "customers.sqlite"
    first = build_serving_copy(day_one, path, timeline_limit=LIMIT)
    rows = contents(path)

    again = build_serving_copy(
        day_one, path, timeline_limit=LIMIT, previous=since(day_one, day_one)
    )

    assert again.rewritten == 0
    assert again.version != first.version  # a new file all the same
    assert contents(path) == rows


def _shuffled_sessions(day: CuratedSnapshot) -> CuratedSnapshot:
    sessions = _frames(day)["fct_sessions"]
    owners = sessions.with_columns(customer_key=pl.col("customer_key").shuffle(seed=1))
    return CuratedSnapshot(
        {**day.tables, "fct_sessions": _fit("fct_sessions", owners)}, day.snapshots
    )


@pytest.mark.parametrize(
    "case",
    ["no copy", "another timeline limit", "built from other snapshots", "most timelines changed"],
)
def test_a_copy_that_cannot_be_built_on_is_built_in_full(
    case: str, day_one: CuratedSnapshot, tmp_path: Path
) -> None:
    path = tmp_path / "customers.sqlite"
    day_two, _ = next_day(day_one)
    in_place = _shuffled_sessions(day_one) if case == "most timelines changed" else day_one
    if case != "no copy":
        limit = LIMIT + 1 if case == "another timeline limit" else LIMIT
        build_serving_copy(in_place, path, timeline_limit=limit)
    previous = since(in_place, day_two)
    if case == "built from other snapshots":
        previous = PreviousRows({name: SnapshotRef(7, BEFORE) for name in SERVED}, previous.tables)

    info = build_serving_copy(day_two, path, timeline_limit=LIMIT, previous=previous)

    assert info.rewritten is None
    assert contents(path) == contents(built_afresh(day_two, tmp_path))


def _session_times_as_text(day: CuratedSnapshot) -> CuratedSnapshot:
    sessions = _frames(day)["fct_sessions"].with_columns(pl.col("started_at").cast(pl.String))
    return CuratedSnapshot({**day.tables, "fct_sessions": sessions.to_arrow()}, day.snapshots)


def test_a_build_that_fails_midway_leaves_the_copy_in_place_and_no_scraps(
    day_one: CuratedSnapshot, tmp_path: Path
) -> None:
    path = tmp_path / "customers.sqlite"
    build_serving_copy(day_one, path, timeline_limit=LIMIT, version="good")
    rows = contents(path)
    # Session times as text: the changed sessions are found, but no timeline can be written
    # from them, so the build fails after its first writes to the new file.
    day_two = _session_times_as_text(next_day(day_one)[0])
    previous = since(_session_times_as_text(day_one), day_two)

    with pytest.raises(Exception, match="timezone"):
        build_serving_copy(day_two, path, timeline_limit=LIMIT, previous=previous)

    assert ServingStore(path).current().version == "good"
    assert contents(path) == rows
    assert [p.name for p in tmp_path.iterdir()] == ["customers.sqlite"]


# --- publishing from the lakehouse -----------------------------------------------------------


def _publish_marts(catalog: Catalog, curated: CuratedSnapshot, run_id: str) -> None:
    for name, rows in curated.tables.items():
        batch_id = content_batch_id(name, rows)
        write(catalog, SERVED[name], rows, batch_id=batch_id, run_id=run_id, mode="overwrite")


def test_publishing_builds_on_the_copy_in_place_from_the_snapshots_it_records(
    settings: Settings, catalog: Catalog, day_one: CuratedSnapshot, tmp_path: Path
) -> None:
    _publish_marts(catalog, day_one, "day-1")
    first = publish_serving_copy(settings, catalog)
    assert first.rewritten is None  # no copy yet
    day_two, _ = next_day(day_one)
    _publish_marts(catalog, day_two, "day-2")

    second = publish_serving_copy(settings, catalog)
    third = publish_serving_copy(settings, catalog)

    assert second.rewritten
    assert third.rewritten == 0
    limit = settings.api.timeline_limit
    afresh = build_serving_copy(
        read_curated(catalog), tmp_path / "afresh.sqlite", timeline_limit=limit
    )
    assert contents(serving_path(settings)) == contents(afresh.path)
    assert second.snapshots == afresh.snapshots != first.snapshots


def test_a_recorded_snapshot_no_longer_in_the_table_means_a_full_build(
    catalog: Catalog, day_one: CuratedSnapshot
) -> None:
    _publish_marts(catalog, day_one, "day-1")
    current = read_curated(catalog)
    gone = {**current.snapshots, "fct_orders": SnapshotRef(12345, BEFORE)}

    assert read_previous(catalog, gone, current) is None
    unchanged = read_previous(catalog, current.snapshots, current)
    assert unchanged is not None
    assert not unchanged.tables
