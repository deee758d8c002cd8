"""A world lived for a few days by some source families, and what the landing zone holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from c360.settings import Settings
from simulator.context import DayContext, Emission, SourceFamily
from simulator.emitters.landing import open_landing
from simulator.population import generate_people, live_day

NO_EVENTS = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})


@dataclass
class World:
    """What the landing zone holds after some days, and what each day said it emitted."""

    settings: Settings
    people: pl.DataFrame
    emissions: list[dict[str, Emission]]

    @property
    def files(self) -> dict[str, bytes]:
        landing = open_landing(self.settings)
        return {key: landing.get(key) for key in landing.list()}

    def manifest(self, family: str) -> dict[str, tuple[int, str]]:
        return {
            d.dataset: (d.rows, d.checksum) for day in self.emissions for d in day[family].datasets
        }

    def truth(self, family: str) -> pl.DataFrame:
        return pl.concat([day[family].truth for day in self.emissions])


def live(
    settings: Settings, days: int, families: Sequence[SourceFamily], people: int | None = None
) -> World:
    """Live days 0..days-1, each family emitting in order every day.

    Args:
        people: how many people the world has (the settings' scale if None).
    """
    population = generate_people(people or settings.people, settings.seed)
    events = NO_EVENTS
    emissions = []
    for day in range(days):
        if day:
            rng = DayContext(day, settings, population, NO_EVENTS).rng("people")
            population, events = live_day(population, rng, settings.seed)
        ctx = DayContext(day, settings, population, events)
        emissions.append({family.name: family.emit(ctx) for family in families})
    return World(settings, population, emissions)
