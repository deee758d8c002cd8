"""Stream ingestion throughput: draining a `small` world's clickstream into raw vs only
reading it off the stream.

The world (day 0 and `DAYS` more days, so the embedded stream holds several days of events,
duplicates and late ones included) is simulated once per run, before any clock starts. Then:
- `read_stream` (baseline): every record of every shard, page by page: what any consumer
  pays to get the records off the stream;
- `ingest_stream`: `flows.ingest_stream.consume(follow=False)` into a fresh SQLite catalog:
  reading, the JSON into typed columns, Parquet files and one commit (with the shard
  checkpoints) per `MAX_BATCH_RECORDS` records.
The ratio is the cost of landing. `rows` is the records on the stream; the scale preset sets
the size, so `--rows` does not apply here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.runner import Step, Variant, Workload, WorkloadContext
from c360.settings import CatalogSettings, ProfileName, Scale, Settings
from catalog.factory import open_catalog
from catalog.registry import ensure_table
from catalog.tables import raw
from flows.ingest_stream import consume
from simulator.emitters.stream import MAX_GET_LIMIT, open_stream, read_shard
from simulator.world import simulate

SCALE = Scale.SMALL
DAYS = 3


def simulated_stream(workdir: Path, scale: Scale, seed: int) -> Settings:
    """A world of `DAYS` + 1 days under `workdir/world` (its stream included)."""
    home = (workdir / "world").resolve()
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home, profile=ProfileName.LOCAL, scale=scale, seed=seed)
    simulate(settings, days=DAYS)
    return settings


def lakehouse_settings(world: Settings, root: Path) -> Settings:
    """`world`'s sources with a catalog and warehouse of their own under `root`."""
    root = root.resolve()
    catalog = CatalogSettings(
        type="sql", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse"
    )
    return world.model_copy(update={"catalog": catalog})


def variants_for(scale: Scale, context: WorkloadContext) -> list[Variant]:
    world = simulated_stream(context.workdir, scale, context.seed)
    return [
        Variant("read_stream", lambda: _read_all(world)),
        _ingest_variant(world, context.workdir / "lakehouse"),
    ]


def _read_all(settings: Settings) -> Step:
    def step() -> int:
        stream = open_stream(settings)
        try:
            return sum(
                1
                for shard in stream.shard_ids()
                for _ in read_shard(stream, shard, page_size=MAX_GET_LIMIT)
            )
        finally:
            stream.close()

    return step


def _ingest_variant(world: Settings, root: Path) -> Variant:
    def prepare() -> Step:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        settings = lakehouse_settings(world, root)
        ensure_table(open_catalog(settings), raw.CLICKSTREAM_EVENTS)

        def step() -> int:
            return sum(r.rows for r in consume(settings, follow=False, run_id="bench"))

        return step

    return Variant("ingest_stream", prepare)


WORKLOAD = Workload(
    name="ingest_stream",
    doc=f"drain {DAYS + 1} days of a {SCALE.value} world's clickstream into raw vs reading it",
    baseline="read_stream",
    default_rows=1,
    variants=lambda context: variants_for(SCALE, context),
)
