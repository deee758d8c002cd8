"""What a source family gets to emit one simulated day, and what it hands back."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
from polars._typing import SchemaDict

from c360.settings import Settings
from simulator.clock import day_date, day_start


def write_atomically(frame: pl.DataFrame, path: Path) -> None:
    """Write Parquet so that a reader (or a crash) never sees a half-written file."""
    partial = path.with_suffix(".partial")
    frame.write_parquet(partial)
    partial.replace(path)


TRUTH_SCHEMA: SchemaDict = {
    "source": pl.String,
    "source_record_id": pl.String,
    "person_id": pl.String,
}


@dataclass(frozen=True)
class DayContext:
    """One simulated day: the hidden people as they are that day and what happened to them.

    Source families draw randomness only from `rng(...)` and keep state only through
    `load_state`/`save_state`, so a day's output depends on the seed and the day alone.

    Args:
        day: the day number; day 0 carries each source's history up to the start.
        settings: the settings in force (where sources live, scale, faults).
        people: the hidden population after today's life events.
        events: today's life events (`person_id`, `event`), empty on day 0.
    """

    day: int
    settings: Settings
    people: pl.DataFrame
    events: pl.DataFrame

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def start(self) -> datetime:
        return day_start(self.day)

    @property
    def date(self) -> date:
        return day_date(self.day)

    @property
    def world_dir(self) -> Path:
        """Where source families keep their memory of the world, one folder each."""
        return self.settings.sources_dir / "world"

    @property
    def truth_dir(self) -> Path:
        return self.settings.sources_dir / "truth"

    def load_state(self, name: str) -> pl.DataFrame | None:
        """What family `name` saved at the end of the previous day (None on day 0).

        Reading the previous day's file, never today's, makes re-emitting a day after a
        crash give the same output.
        """
        path = self.world_dir / name / f"day={self.day - 1:04d}.parquet"
        return pl.read_parquet(path) if path.exists() else None

    def save_state(self, name: str, state: pl.DataFrame) -> None:
        """Save family `name`'s memory at the end of this day (keeping the day before)."""
        folder = self.world_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(state, folder / f"day={self.day:04d}.parquet")
        for old in folder.glob("day=*.parquet"):
            if old.stem < f"day={self.day - 1:04d}":
                old.unlink()

    def rng(self, stream: str) -> np.random.Generator:
        """A random generator for `stream` on this day: independent of every other stream
        and of how many days were simulated in one call, so output is reproducible."""
        return np.random.default_rng([self.seed, self.day, zlib.crc32(stream.encode())])

    def fault(self, name: str) -> bool:
        """Whether fault `name` is injected today."""
        faults = self.settings.simulator
        return name in faults.faults and self.day == faults.fault_day


@dataclass(frozen=True)
class Emitted:
    """One dataset a source emitted on a day, as the manifest records it."""

    dataset: str
    rows: int
    checksum: str
    deletes: int = 0


@dataclass
class Emission:
    """What a source family emitted on a day: the datasets and their ground truth."""

    datasets: list[Emitted] = field(default_factory=list)
    truth: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TRUTH_SCHEMA))


class SourceFamily(Protocol):
    """A kind of source system (CRM, orders, clickstream, files, tickets)."""

    name: str

    def emit(self, ctx: DayContext) -> Emission:
        """Emit `ctx.day`'s records into the source system; return what was emitted."""
        ...
