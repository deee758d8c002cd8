"""The simulated world: generate people, show them to each source system, keep the truth."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import polars as pl

from c360.settings import Settings
from simulator import crm
from simulator.emitters.database import connect, replace_rows
from simulator.population import generate_people
from simulator.truth import manifest_row, read_manifest, write_truth

STATE_FILE = "state.json"


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
    """What a `simulate` call emitted: rows per source, or nothing if already emitted."""

    day: int
    emitted: dict[str, int] = field(default_factory=dict)
    already_emitted: bool = False


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


def simulate(settings: Settings) -> SimulationReport:
    """Emit day 0 of the world for `settings.seed`/`settings.scale` into every source.

    Re-running with the same parameters emits nothing again.

    Raises:
        WorldMismatchError: the sources were generated with another seed or scale.
    """
    wanted = WorldState(settings.seed, settings.scale.value, settings.people, day=0)
    state_path = settings.sources_dir / STATE_FILE
    truth_dir = settings.sources_dir / "truth"
    current = check_world(settings)
    if current == wanted:
        counts = read_manifest(truth_dir).filter(pl.col("day") == current.day)
        return SimulationReport(
            current.day,
            dict(zip(counts["source"], counts["rows"], strict=True)),
            already_emitted=True,
        )
    people = generate_people(settings.people, settings.seed)
    customers = crm.crm_customers(people, settings.seed)
    sources = settings.resolved_sources()
    assert sources.crm_url, "every profile names a CRM database"
    replace_rows(connect(sources.crm_url), crm.CUSTOMERS, customers)

    emitted_crm = customers.drop("person_id")
    records = customers.select(
        source=pl.lit("crm"), source_record_id="customer_id", person_id="person_id"
    )
    manifest = pl.DataFrame([manifest_row(0, "crm.customers", emitted_crm, "customer_id")])
    write_truth(truth_dir, records, manifest)
    state_path.write_text(json.dumps(asdict(wanted)))
    return SimulationReport(0, {"crm.customers": customers.height})
