"""The simulated world: people live day by day, and each source system shows a part of it.

Day 0 carries every source's history up to the start; each later day carries only that
day's changes. The world's progress is kept in `$C360_HOME/sources/state.json`: a day is
complete once it is recorded there, and an interrupted day is emitted again, identically.

The publication log (`$C360_HOME/published.json`) records when, by the wall clock, each
day's emission finished: `{"0": "2026-11-27T03:58:41.123456+00:00", ...}`. A day's
database rows and files all appear at once, so this is when they became available to
ingest, and a capture's lag is measured from it (`flows/quality/timeliness.py`). It lives beside
`sources/`, not in it: everything under `sources/` but the stream's arrival times is decided
by the seed alone, byte for byte. Re-emitting a day records its new time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from c360.settings import Settings
from simulator.context import DayContext, Emission, SourceFamily
from simulator.population import generate_people, live_day
from simulator.sources.clickstream import ClickstreamSource
from simulator.sources.crm import CrmSource
from simulator.sources.orders import OrdersSource
from simulator.sources.tickets import TicketsSource
from simulator.sources.vendor_files import VendorFilesSource
from simulator.truth import MANIFEST_SCHEMA, read_manifest, write_day

STATE_FILE = "state.json"
PUBLISHED_FILE = "published.json"
PEOPLE = "people"

# Emission order matters: later families read the CRM's state for the same day.
FAMILIES: tuple[SourceFamily, ...] = (
    CrmSource(),
    OrdersSource(),
    ClickstreamSource(),
    VendorFilesSource(),
    TicketsSource(),
)


class WorldMismatchError(RuntimeError):
    """C360_HOME already holds a world generated from other parameters."""


@dataclass(frozen=True)
class WorldState:
    seed: int
    scale: str
    people: int
    day: int


@dataclass(frozen=True)
class SimulationReport:
    """What a `simulate` call emitted: the days, and rows per source family (empty if
    nothing was emitted)."""

    day: int
    days_emitted: list[int] = field(default_factory=list)
    emitted: dict[str, int] = field(default_factory=dict)

    @property
    def already_emitted(self) -> bool:
        return not self.days_emitted


def check_world(settings: Settings) -> WorldState | None:
    """The state of the world already in the sources, if any.

    Raises:
        WorldMismatchError: it was generated with another seed or scale.
    """
    state_path = settings.sources_dir / STATE_FILE
    if not state_path.exists():
        return None
    current = WorldState(**json.loads(state_path.read_text()))
    if (current.seed, current.scale) != (settings.seed, settings.scale.value):
        raise WorldMismatchError(
            f"{settings.home} holds a world made with seed {current.seed} at scale "
            f"{current.scale}; rerun with those, or `c360 reset` to start a new world"
        )
    return current


def simulate(
    settings: Settings, days: int = 0, on_day: Callable[[int], None] | None = None
) -> SimulationReport:
    """Advance the world `days` days past its current day (a new world starts at day 0).

    Args:
        settings: seed, scale, where the sources live and which faults to inject.
        days: how many days to advance; 0 only makes sure day 0 exists.
        on_day: called with each day number as it starts (progress display).

    Raises:
        WorldMismatchError: the sources were generated with another seed or scale.
    """
    current = check_world(settings)
    first = 0 if current is None else current.day + 1
    last = days if current is None else current.day + days
    for day in range(first, last + 1):
        if on_day is not None:
            on_day(day)
        emit_day(settings, day)
    emitted_days = list(range(first, last + 1))
    manifest = read_manifest(settings.sources_dir / "truth").filter(
        pl.col("day").is_in(emitted_days)
    )
    totals = manifest.group_by("source").agg(pl.col("rows").sum()).sort("source")
    return SimulationReport(
        last, emitted_days, dict(zip(totals["source"], totals["rows"], strict=True))
    )


def emit_day(settings: Settings, day: int) -> None:
    """Live one day and emit it into every source system, then record it as done."""
    ctx = _day_context(settings, day)
    emissions = {family.name: family.emit(ctx) for family in FAMILIES}
    write_day(
        ctx.truth_dir,
        day,
        pl.concat([e.truth for e in emissions.values()]),
        _manifest(day, emissions),
        ctx.events.with_columns(day=pl.lit(day, pl.Int32)).select("day", "person_id", "event"),
    )
    record_published(settings, day, datetime.now(UTC))
    ctx.save_state(PEOPLE, ctx.people)
    state = WorldState(settings.seed, settings.scale.value, settings.people, day)
    partial = settings.sources_dir / f"{STATE_FILE}.partial"
    partial.write_text(json.dumps(asdict(state)))
    partial.replace(settings.sources_dir / STATE_FILE)


def published_path(settings: Settings) -> Path:
    """The publication log's file (see the module docstring)."""
    return settings.home / PUBLISHED_FILE


def read_published(settings: Settings) -> dict[int, datetime]:
    """When each emitted day's emission finished (wall clock, UTC); empty if none is logged."""
    path = published_path(settings)
    if not path.exists():
        return {}
    return {
        int(day): datetime.fromisoformat(at) for day, at in json.loads(path.read_text()).items()
    }


def record_published(settings: Settings, day: int, at: datetime) -> None:
    """Log that `day` finished emitting at `at`, replacing any earlier time for it."""
    log = {**read_published(settings), day: at.astimezone(UTC)}
    path = published_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{PUBLISHED_FILE}.partial")
    partial.write_text(json.dumps({str(d): log[d].isoformat() for d in sorted(log)}, indent=1))
    partial.replace(path)


def _day_context(settings: Settings, day: int) -> DayContext:
    no_events = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})
    if day == 0:
        people = generate_people(settings.people, settings.seed)
        return DayContext(0, settings, people, no_events)
    yesterday = DayContext(day, settings, pl.DataFrame(), no_events).load_state(PEOPLE)
    assert yesterday is not None, f"day {day - 1} must be emitted before day {day}"
    ctx = DayContext(day, settings, yesterday, no_events)
    people, events = live_day(yesterday, ctx.rng(PEOPLE), settings.seed)
    return DayContext(day, settings, people, events)


def _manifest(day: int, emissions: dict[str, Emission]) -> pl.DataFrame:
    rows = [
        {
            "day": day,
            "source": source,
            "dataset": d.dataset,
            "rows": d.rows,
            "deletes": d.deletes,
            "checksum": d.checksum,
        }
        for source, emission in emissions.items()
        for d in emission.datasets
    ]
    return pl.DataFrame(rows, schema=MANIFEST_SCHEMA)
