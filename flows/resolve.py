"""Resolve: staging records -> persons with stable keys, a golden record each, and the
resolution's accuracy against the simulator's truth.

Writes `staging.customer_xref` and `staging.customer_golden` (they describe the current
state), and appends to `ops.identity_history` (key merges, splits and retirements) and
`ops.identity_metrics` (pairwise precision, recall and F1 per source). The xref commit
records which staging snapshots it resolved, so a run with nothing new staged resolves
nothing; every write carries a batch id derived from what was read, so a re-run after a
crash never appends history or metrics twice.

Millions of events cost one pass, not a resolution each: they are summed up per group
(`transforms.identity.events`) and resolution works on a few tens of thousands of rows.
The xref is computed only where it changed: every non-event row (few, and a newly
trained Splink model moves their probabilities), the events that are new, and those of
groups whose key or rule changed; the previous xref's other event rows are carried over as
read, and the table is written whole. (Replacing only the changed rows through a delete filter
costs more: pyiceberg's copy-on-write reads and rewrites every data file holding one, and
a day's merges reach into all of them: 11 s against 2 s for a `medium` world's 19M rows.)
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

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.factory import open_catalog
from catalog.reader import read_rows, read_snapshot
from catalog.registry import ensure_table
from catalog.tables import ops, staging
from catalog.tables.definition import TableDef
from catalog.writer import WriteResult, content_batch_id, write
from simulator.truth import read_records
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
# Past this many event rows to replace, every event row is listed afresh from the staged
# events rather than carried over from the previous xref.
MAX_REPLACED_EVENTS = 200_000


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


def next_xref(
    resolution: GroupResolution, units: pl.DataFrame, index: EventIndex, prior: pa.Table
) -> pl.DataFrame:
    """This resolution's xref from the previous one (`prior`, every column): every row of
    the other sources, the events that are new or whose key or rule changed, and the other
    events' rows as `prior` holds them.

    Args:
        resolution: this run's resolution.
        units: `EventIndex.units`, which `resolution` resolved.
        index: the staged events.
        prior: the previous xref.
    """
    keyed = units.join(resolution.groups, on=GROUP, nulls_equal=True).with_columns(
        replaces=pl.col("old_key").is_not_null()
    )
    changed = keyed.filter(
        ~pl.col("replaces")
        | (pl.col("customer_key") != pl.col("old_key"))
        | (pl.col("match_rule") != pl.col("old_rule"))
    )
    gone = index.gone()
    replacing = changed.filter("replaces")["events"].sum() + len(gone)
    whole = prior.num_rows == 0 or replacing > MAX_REPLACED_EVENTS
    listed = index.listed(
        (keyed if whole else changed).select(
            *GROUP, "old_key", "old_rule", "customer_key", "match_rule", "replaces"
        )
    )
    events = listed.select(
        pl.lit(EVENT_SOURCE).alias("source"),
        "source_record_id",
        "customer_key",
        "match_rule",
        pl.lit(1.0).alias("match_probability"),
    )
    rows = pl.concat([resolution.xref, events.cast(XREF_SCHEMA)])  # type: ignore[arg-type]
    if whole:
        return rows
    dropped = pl.concat(
        [listed.filter("replaces")["source_record_id"], pl.Series(gone, dtype=pl.String)]
    )
    kept = (
        _frame(prior)
        .filter(
            (pl.col("source") == EVENT_SOURCE)
            & ~pl.col("source_record_id").is_in(dropped.implode())
        )
        .select(list(XREF_SCHEMA))
        .cast(XREF_SCHEMA)  # type: ignore[arg-type]
    )
    return pl.concat([rows, kept])


def measure(
    resolution: GroupResolution,
    index: EventIndex,
    units: pl.DataFrame,
    unidentified: pl.DataFrame,
    truth: pl.DataFrame,
) -> pl.DataFrame:
    """`resolution_metrics` of the resolution, events counted per group and person."""
    records = truth.filter(pl.col("source") != EVENT_SOURCE)
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


def _events(catalog: Catalog, snapshot_id: int | None) -> pa.Table:
    return read_snapshot(
        catalog,
        staging.CLICKSTREAM_EVENTS,
        snapshot_id,
        ("event_id", "device_id", "customer_id", "event_at"),
    )


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
    last = ensure_table(catalog, staging.CUSTOMER_XREF).current_snapshot()
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
    prior = read_snapshot(catalog, staging.CUSTOMER_XREF, last.snapshot_id if last else None)
    keys = prior["customer_key"]
    # Above every key ever committed, retired ones too.
    first_new = max(
        int(summary.get(NEXT_KEY) or 1) if summary else 1, (pc.max(keys).as_py() or 0) + 1
    )
    truth = read_records(truth_dir) if truth_dir is not None and truth_dir.exists() else None
    kept = kept_model(catalog)
    is_event = pc.equal(prior["source"], EVENT_SOURCE)
    with EventIndex(
        _events(catalog, snapshots[EVENTS]),
        prior.filter(is_event).select(["source_record_id", "customer_key", "match_rule"]),
        None
        if truth is None
        else truth.filter(pl.col("source") == EVENT_SOURCE).drop("source").to_arrow(),
    ) as index:
        units = index.units()
        resolution = resolve_groups(
            records,
            units,
            _frame(prior.filter(pc.invert(is_event))),
            _frame(pa.table({"old_key": keys}))
            .group_by("old_key")
            .agg(records=pl.len().cast(pl.Int64)),
            first_new,
            model=kept,
        )
        unidentified = index.unidentified()
        xref = next_xref(resolution, units, index, prior)
        metrics = (
            pl.DataFrame()
            if truth is None
            else measure(resolution, index, units, unidentified, truth)
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
