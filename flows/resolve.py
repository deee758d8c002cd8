"""Resolve: staging records -> persons with stable keys, a golden record each, and the
resolution's accuracy against the simulator's truth.

Writes `staging.customer_xref` and `staging.customer_golden` (they describe the current
state), and appends to `ops.identity_history` (key merges, splits and retirements) and
`ops.identity_metrics` (pairwise precision, recall and F1 per source). The xref commit
records which staging snapshots it resolved, so a run with nothing new staged resolves
nothing; every write carries a batch id derived from what was read, so a re-run after a
crash never appends history or metrics twice.

Millions of events cost one pass, not a resolution each: DuckDB reads the staged events,
the previous xref and the truth from their files (`catalog.duckdb_scan`) and sums the events
up per group (`transforms.identity.events`), so resolution works on a few tens of thousands
of rows, and lists them again with their groups' keys for the xref, which is written whole.
(Replacing only the changed rows through a delete filter costs more: pyiceberg's
copy-on-write reads and rewrites every data file holding one, and a day's merges reach into
all of them: 11 s against 2 s for a `medium` world's 19M rows.)
Splink scores pairs with the model kept in `ops.identity_models` until the profiles have
changed enough to train another (`transforms/identity/probabilistic.py`), which is kept
there in turn: the tables hold exactly what a resolution from scratch with the same model
would write (`tests/flows/test_resolve.py` proves it day by day), and `flows/replay.py`
restores the model a run found, so it reproduces them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.duckdb_scan import connect_lakehouse, create_snapshot_view
from catalog.factory import open_catalog
from catalog.reader import read_rows, read_snapshot
from catalog.registry import ensure_table
from catalog.tables import ops, staging
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, content_batch_id, fit_to_schema, write
from simulator.truth import record_files
from transforms.identity.events import EventIndex
from transforms.identity.metrics import resolution_metrics
from transforms.identity.probabilistic import MatchModel
from transforms.identity.profiles import ANONYMOUS_DEVICE, EVENT_SOURCE, GROUP
from transforms.identity.records import STAGING_COLUMNS, STAGING_TABLES, identity_records
from transforms.identity.resolve import XREF_SCHEMA, GroupResolution, resolve_groups

# The xref snapshot summary entry naming the staging snapshots it resolved.
RESOLVED_SNAPSHOTS = "c360.resolved-snapshots"
# ... and the next customer key to mint: kept with the commit that makes keys official, so
# a re-run after a crash mints exactly the keys the crashed run's history already names.
NEXT_KEY = "c360.next-key"
STAGING_DEFS: dict[str, TableDef] = {t.name: t for t in staging.TABLES}
EVENTS = STAGING_TABLES[EVENT_SOURCE]
RECORD = ["source", "source_record_id"]
EVENT_COLUMNS = ("event_id", "device_id", "customer_id", "event_at")


@dataclass(frozen=True)
class ResolveOutcome:
    """What one resolve step did (`status`: resolved or unchanged)."""

    status: str
    records: int = 0
    customers: int = 0
    history: int = 0
    seconds: float = 0.0
    metrics: pl.DataFrame = field(default_factory=pl.DataFrame)
    unresolved: pl.DataFrame = field(default_factory=pl.DataFrame)
    writes: list[WriteResult] = field(default_factory=list)
    model: MatchModel | None = None
    trained: bool = False  # whether `model` was trained by this run


def staging_snapshot_ids(catalog: Catalog) -> dict[str, int | None]:
    """The current snapshot of every staging table resolution reads, by table name."""
    ids = {}
    for name in sorted(STAGING_TABLES.values()):
        snapshot = ensure_table(catalog, STAGING_DEFS[name]).current_snapshot()
        ids[name] = snapshot.snapshot_id if snapshot else None
    return ids


def kept_model(catalog: Catalog) -> MatchModel | None:
    """The newest Splink model in `ops.identity_models` (None: none trained yet)."""
    models = read_rows(catalog, ops.IDENTITY_MODELS)
    if models.is_empty():
        return None
    newest = models.sort("trained_at").row(-1, named=True)
    return MatchModel(newest["spec"], newest["profiles"], newest["parameters"])


def _describe(ids: dict[str, int | None]) -> str:
    """The snapshots as one stable string (what `RESOLVED_SNAPSHOTS` records)."""
    return ",".join(f"{name}={'none' if i is None else i}" for name, i in ids.items())


def measure(
    resolution: GroupResolution,
    index: EventIndex,
    units: pl.DataFrame,
    unidentified: pl.DataFrame,
    records: pl.DataFrame,
) -> pl.DataFrame:
    """`resolution_metrics` of the resolution, events counted per group and person;
    `records`: the truth's `source`, `source_record_id`, `person_id` of every record but
    events."""
    events = index.persons().join(resolution.groups, on=GROUP, nulls_equal=True)
    scored = pl.concat(
        [
            resolution.xref.join(records, on=RECORD)
            .group_by("source", "customer_key", "match_rule", "person_id")
            .agg(records=pl.len().cast(pl.Int64)),
            events.select(
                pl.lit(EVENT_SOURCE).alias("source"),
                "customer_key",
                "match_rule",
                "person_id",
                "records",
            ),
        ]
    )
    alone = pl.concat(
        [
            resolution.unresolved.join(records, on=RECORD).select("source", "person_id"),
            unidentified.drop_nulls("person_id").select(
                source=pl.lit(EVENT_SOURCE), person_id="person_id"
            ),
        ]
    )
    anonymous = units.join(resolution.groups, on=GROUP, nulls_equal=True).filter(
        pl.col("match_rule") == ANONYMOUS_DEVICE
    )
    left_out = pl.concat(
        [
            resolution.unresolved.group_by("source").agg(records=pl.len().cast(pl.Int64)),
            pl.DataFrame(
                {
                    "source": [EVENT_SOURCE],
                    "records": [int(anonymous["events"].sum()) + unidentified.height],
                }
            ),
        ]
    )
    return resolution_metrics(scored, alone, left_out)


def resolve_lakehouse(catalog: Catalog, truth_dir: Path | None, *, run_id: str) -> ResolveOutcome:
    """Resolve the current staging state, unless it was resolved already.

    Args:
        catalog: the lakehouse.
        truth_dir: the simulator's truth (`$C360_HOME/sources/truth`); None where there is
            none (real sources), and then no metrics are measured.
        run_id: the pipeline run.
    """
    started = time.perf_counter()
    snapshots = staging_snapshot_ids(catalog)
    read = _describe(snapshots)
    xref_table = ensure_table(catalog, staging.CUSTOMER_XREF)
    last = xref_table.current_snapshot()
    summary = last.summary if last and last.summary else None
    if summary and read == summary.get(RESOLVED_SNAPSHOTS):
        return ResolveOutcome("unchanged")
    records = identity_records(
        {
            name: _frame(
                read_snapshot(catalog, STAGING_DEFS[name], snapshots[name], STAGING_COLUMNS[name])
            )
            for name in STAGING_TABLES.values()
            if name != EVENTS
        }
    )
    truth_files = record_files(truth_dir) if truth_dir is not None else []
    kept = kept_model(catalog)
    with connect_lakehouse(catalog) as db:
        create_snapshot_view(
            db,
            "staged_events",
            ensure_table(catalog, staging.CLICKSTREAM_EVENTS),
            snapshots[EVENTS],
            EVENT_COLUMNS,
        )
        create_snapshot_view(
            db,
            "prior_xref",
            xref_table,
            last.snapshot_id if last else None,
            list(XREF_SCHEMA),
        )
        if truth_files:
            db.execute(
                "create view truth as select source, source_record_id, person_id "
                f"from read_parquet({[str(f) for f in truth_files]})"
            )
        prior = _query(db, f"select * from prior_xref where source <> '{EVENT_SOURCE}'")
        previous = _query(
            db, "select customer_key as old_key, count(*) as records from prior_xref group by all"
        ).cast({"old_key": pl.Int64, "records": pl.Int64})
        # Above every key ever committed, retired ones too.
        largest_prior = previous.select(pl.col("old_key").max().fill_null(0)).item()
        first_new = max(int(summary.get(NEXT_KEY) or 1) if summary else 1, largest_prior + 1)
        index = EventIndex(db, "staged_events", "prior_xref", "truth" if truth_files else None)
        units = index.units()
        resolution = resolve_groups(records, units, prior, previous, first_new, model=kept)
        unidentified = index.unidentified()
        # Kept in Arrow: millions of event rows go to the writer without a copy into Polars.
        xref = pa.concat_tables(
            fit_to_schema(rows, xref_table.schema(), staging.CUSTOMER_XREF.identifier_name)
            for rows in (resolution.xref.to_arrow(), index.keyed(resolution.groups))
        )
        metrics = (
            measure(
                resolution,
                index,
                units,
                unidentified,
                _query(db, f"select * from truth where source <> '{EVENT_SOURCE}'"),
            )
            if truth_files
            else pl.DataFrame()
        )
    batch = content_batch_id("resolve", read, str(last and last.snapshot_id))
    now = datetime.now(UTC)
    writes = [
        write(
            catalog,
            ops.IDENTITY_HISTORY,
            resolution.history.with_columns(run_id=pl.lit(run_id), recorded_at=pl.lit(now)),
            batch_id=batch,
            run_id=run_id,
        ),
        write(
            catalog,
            staging.CUSTOMER_GOLDEN,
            resolution.golden,
            batch_id=batch,
            run_id=run_id,
            mode="overwrite",
        ),
    ]
    trained = resolution.model is not None and resolution.model != kept
    if trained:
        assert resolution.model is not None
        writes.append(
            write(
                catalog,
                ops.IDENTITY_MODELS,
                pl.DataFrame(
                    {
                        "run_id": [run_id],
                        "spec": [resolution.model.spec],
                        "profiles": [resolution.model.profiles],
                        "parameters": [resolution.model.parameters],
                        "trained_at": [now],
                    }
                ),
                batch_id=batch,
                run_id=run_id,
            )
        )
    if not metrics.is_empty():
        writes.append(
            write(
                catalog,
                ops.IDENTITY_METRICS,
                metrics.with_columns(run_id=pl.lit(run_id), measured_at=pl.lit(now)),
                batch_id=batch,
                run_id=run_id,
            )
        )
    largest = (
        pl.concat(
            [resolution.xref.select("customer_key"), resolution.groups.select("customer_key")]
        )
        .select(pl.col("customer_key").max().fill_null(0))
        .item()
    )
    # Last: its summary is what marks these staging snapshots as resolved.
    writes.append(
        write(
            catalog,
            staging.CUSTOMER_XREF,
            xref,
            batch_id=batch,
            run_id=run_id,
            mode="overwrite",
            properties={RESOLVED_SNAPSHOTS: read, NEXT_KEY: str(max(first_new, int(largest) + 1))},
            commit_empty=True,
        )
    )
    unresolved = pl.concat(
        [
            resolution.unresolved,
            unidentified.select(source=pl.lit(EVENT_SOURCE), source_record_id="source_record_id"),
        ]
    )
    return ResolveOutcome(
        "resolved",
        records=resolution.xref.height + int(units["events"].sum()),
        customers=resolution.golden.height,
        history=resolution.history.height,
        seconds=time.perf_counter() - started,
        metrics=metrics,
        unresolved=unresolved,
        writes=writes,
        model=resolution.model,
        trained=trained,
    )


def _query(db: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return _frame(db.sql(sql).to_arrow_table())


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


@task(cache_policy=NO_CACHE, task_run_name="resolve-identities")
def resolve_task(settings: Settings, run_id: str) -> ResolveOutcome:
    """Resolve identities across every staged source and measure it against the truth."""
    outcome = resolve_lakehouse(
        open_catalog(settings), settings.sources_dir / "truth", run_id=run_id
    )
    logger = get_run_logger()
    if outcome.status == "unchanged":
        logger.info("identity resolution: nothing new staged")
        return outcome
    logger.info(
        "identity resolution: %d records -> %d customers in %.1f s, %d key changes",
        outcome.records,
        outcome.customers,
        outcome.seconds,
        outcome.history,
    )
    if outcome.model is not None:
        logger.info(
            "identity resolution: Splink model %s on %d profiles",
            "trained" if outcome.trained else "kept, trained",
            outcome.model.profiles,
        )
    if not outcome.metrics.is_empty():
        overall = outcome.metrics.filter(pl.col("scope") == "all").row(0, named=True)
        logger.info(
            "identity resolution vs truth: precision %.4f, recall %.4f, F1 %.4f",
            overall["precision"],
            overall["recall"],
            overall["f1"],
        )
    return outcome
