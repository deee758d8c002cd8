"""Stage: raw history to clean staging tables, each feed held to its data contract.

One staging step for one feed:
1. a feed whose source drifted (`ops.schema_changes` not yet accepted) is paused: it stages
   nothing, raises a drift alert, and keeps its raw data for when it resumes;
2. reads only the raw batches committed since the raw snapshot the staging table last
   consumed (recorded in the staging commit's summary), or all of them on a full rebuild;
   when those commits only appended, at most `MAX_STAGED_ROWS` rows of them per step, so a
   large backlog is staged in several steps, oldest first, each committed before the next;
3. checks every row against the contract's rules in the chosen engine: rows that break one
   go to `ops.quarantine` with the rule, column, value and batch (a contract that alerts
   instead lets them through, recorded as alerted);
4. proves raw rows = staged + quarantined for every batch before writing anything;
5. runs the engine's staging function on the prior state and the accepted rows, and commits
   the quarantine, then the staging table (its summary naming the raw snapshot consumed),
   then the batch accounting. Each commit's batch id derives from the raw snapshots read,
   so a re-run after a crash skips what was committed and finishes the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import polars as pl
import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from c360.settings import Settings
from catalog.contracts import Contract, ViolationAction, load_contracts
from catalog.contracts.drift import pause_if_drifted
from catalog.contracts.rules import RuleKind, rules_for
from catalog.factory import open_catalog
from catalog.reader import added_files, appended_since, read_rows
from catalog.registry import ensure_table
from catalog.tables import ops, raw, staging
from catalog.tables.definition import TableDef
from catalog.writer import BATCH_ID, WriteResult, content_batch_id, write
from transforms.engines import COLUMN, RULE, VALUE, EngineName, Source, check, function, get_engine

SOURCE_SNAPSHOT = "c360.source-snapshot"
ENGINE = "c360.engine"
# Raw columns a quarantine row keeps to find its raw row again.
TRACE_COLUMNS = ("_batch_id", "_source_file", "_source_position", "_ingested_at")
# Raw rows staged at a time when the backlog is appends: a staging step holds several
# copies of what it reads (about 1.3 kB a clickstream row at its peak), so months of events
# at once would not fit in memory.
MAX_STAGED_ROWS = 2_000_000
# Rules a row cannot be staged without, whatever the contract's enforcement says.
ALWAYS_HELD = frozenset({RuleKind.PRIMARY_KEY.value, RuleKind.DUPLICATE_KEY.value})

Status = Literal["staged", "unchanged", "paused"]


class StagingInvariantError(RuntimeError):
    """A raw batch's rows do not equal the rows staged plus quarantined from it."""


@dataclass(frozen=True)
class Staged:
    """A staging table, the raw table it is built from, and the staging function between.

    `function` is a name in `transforms.<engine>.<module>`; an `append` table's function
    returns only the new rows (events), the others the table's whole new state.
    """

    source: TableDef
    target: TableDef
    module: str
    function: str
    append: bool = False

    @property
    def feed(self) -> str:
        """The feed's name: its raw table's, as contracts and `ops` tables name it."""
        return self.source.name


STAGED: dict[str, Staged] = {
    s.target.name: s
    for s in (
        Staged(raw.CRM_CUSTOMERS, staging.CRM_CUSTOMERS, "crm_customers", "stage_crm_customers"),
        Staged(raw.ORDERS_PRODUCTS, staging.ORDERS_PRODUCTS, "orders", "stage_products"),
        Staged(raw.ORDERS_ORDERS, staging.ORDERS_ORDERS, "orders", "stage_orders"),
        Staged(raw.ORDERS_ORDER_ITEMS, staging.ORDERS_ORDER_ITEMS, "orders", "stage_order_items"),
        Staged(raw.ORDERS_PAYMENTS, staging.ORDERS_PAYMENTS, "orders", "stage_payments"),
        Staged(
            raw.CLICKSTREAM_EVENTS,
            staging.CLICKSTREAM_EVENTS,
            "clickstream",
            "stage_clickstream_events",
            append=True,
        ),
        Staged(
            raw.VENDOR_LOYALTY_MEMBERS,
            staging.VENDOR_LOYALTY_MEMBERS,
            "vendor_files",
            "stage_loyalty_members",
        ),
        Staged(
            raw.VENDOR_MARKETING_LIST,
            staging.VENDOR_MARKETING_LIST,
            "vendor_files",
            "stage_marketing_contacts",
        ),
        Staged(
            raw.VENDOR_LEGACY_CUSTOMERS,
            staging.VENDOR_LEGACY_CUSTOMERS,
            "vendor_files",
            "stage_legacy_customers",
        ),
        Staged(
            raw.VENDOR_PRODUCT_FEED,
            staging.VENDOR_PRODUCT_FEED,
            "vendor_files",
            "stage_vendor_products",
        ),
        Staged(
            raw.SUPPORT_TICKETS,
            staging.SUPPORT_TICKETS,
            "tickets",
            "stage_support_tickets",
            append=True,
        ),
    )
}


@dataclass(frozen=True)
class StageOutcome:
    """What staging one feed did in one run."""

    feed: str
    table: str
    status: Status
    raw_rows: int = 0
    staged_rows: int = 0
    quarantined_rows: int = 0
    alerted_rows: int = 0
    batches: int = 0
    writes: list[WriteResult] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)


def consumed_snapshot(table: Table) -> int | None:
    """The raw snapshot id the staging table's current state was built from."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return None
    consumed = snapshot.summary.additional_properties.get(SOURCE_SNAPSHOT)
    return int(consumed) if consumed else None


def batches_since(
    raw_table: Table, since: int | None, upto: Snapshot | None = None
) -> frozenset[str] | None:
    """The ingest batches committed to `raw_table` after snapshot `since`, up to `upto`
    (default: the current snapshot); None means every batch (no `since`, or it is no longer
    in the table's history: rebuild in full)."""
    current = upto or raw_table.current_snapshot()
    if since is None or current is None:
        return None
    batches: set[str] = set()
    for snapshot in ancestors_of(current, raw_table.metadata):
        if snapshot.snapshot_id == since:
            return frozenset(batches)
        if snapshot.summary is not None and BATCH_ID in snapshot.summary.additional_properties:
            batches.add(str(snapshot.summary[BATCH_ID]))
    return None


def leading(chain: list[Snapshot] | None, max_rows: int) -> list[Snapshot] | None:
    """The oldest snapshots of `chain` (appends, oldest first) whose rows add up to at most
    `max_rows`, the first whatever its size; None for no chain."""
    if chain is None:
        return None
    taken: list[Snapshot] = []
    rows = 0
    for snapshot in chain:
        added = int(snapshot.summary.get("added-records") or 0) if snapshot.summary else 0
        if taken and rows + added > max_rows:
            break
        taken.append(snapshot)
        rows += added
    return taken


def raw_counts(source: Source) -> Counter[str]:
    """Rows per ingest batch, counted by pyiceberg itself (not by the staging engine)."""
    return Counter(source.to_arrow(("_batch_id",))["_batch_id"].to_pylist())


def _quarantine_rows(
    violations: pa.Table, contract: Contract, feed: str, *, passing: frozenset[str], run_id: str
) -> pl.DataFrame:
    frame = pl.from_arrow(violations)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(
        pl.lit(feed).alias("feed"),
        pl.lit(contract.contract_id).alias("contract_id"),
        pl.col(RULE).alias("rule"),
        pl.col(COLUMN).alias("column_name"),
        pl.col(VALUE).alias("value"),
        pl.when(pl.col(RULE).is_in(list(passing)))
        .then(pl.lit("alerted"))
        .otherwise(pl.lit("quarantined"))
        .alias("action"),
        pl.col("_batch_id").alias("batch_id"),
        pl.col("_source_file").cast(pl.String).alias("source_file"),
        pl.col("_source_position").cast(pl.String).alias("source_position"),
        pl.col("_ingested_at").alias("ingested_at"),
        pl.lit(run_id).alias("run_id"),
        pl.lit(datetime.now(UTC)).dt.cast_time_unit("us").alias("quarantined_at"),
    )


@dataclass(frozen=True)
class Computed:
    """What staging one feed computed, before anything is written.

    `quarantine` holds every rule breach (`action` quarantined or alerted); the counters
    are rows per raw batch: in raw (counted by pyiceberg), accepted by the engine, held.
    """

    staged: Staged
    engine: EngineName
    snapshot_id: int
    read: str
    rebuild: bool
    result: pa.Table
    quarantine: pl.DataFrame
    expected: Counter[str]
    accepted: Counter[str]
    held: Counter[str]

    def check_books(self) -> None:
        """Raise `StagingInvariantError` unless raw = staged + quarantined in every batch."""
        e, a, h = self.expected, self.accepted, self.held
        broken = sorted(b for b in e.keys() | a.keys() | h.keys() if e[b] != a[b] + h[b])
        if broken:
            b = broken[0]
            raise StagingInvariantError(
                f"{self.staged.feed}: batch {b} has {e[b]} raw rows but {a[b]} staged + "
                f"{h[b]} quarantined ({len(broken)} batches differ); nothing written"
            )


def compute(
    catalog: Catalog,
    staged: Staged,
    contract: Contract,
    *,
    engine: EngineName = "polars",
    run_id: str,
    full: bool = False,
    max_rows: int = MAX_STAGED_ROWS,
) -> Computed | None:
    """Check and transform what `staged.source` gained since the staging table's consumed
    snapshot (everything if `full`) with `engine`, up to the raw commits that add up to
    `max_rows` when those are appends; None when there is nothing new."""
    raw_table = ensure_table(catalog, staged.source)
    target = ensure_table(catalog, staged.target)
    current = raw_table.current_snapshot()
    consumed = None if full else consumed_snapshot(target)
    if current is None or consumed == current.snapshot_id:
        return None
    # Only appends since: their commits' own manifests name the files to read, and the
    # oldest of them that add up to `max_rows` are this step's.
    appends = leading(appended_since(raw_table, consumed), max_rows)
    upto = appends[-1] if appends else current
    batch_ids = batches_since(raw_table, consumed, upto)
    rebuild = batch_ids is None
    files = None if appends is None else tuple(added_files(raw_table, appends))
    new = Source(raw_table, upto.snapshot_id, batch_ids, files)
    prior_snapshot = target.current_snapshot()
    prior = Source(
        target, None if rebuild or prior_snapshot is None else prior_snapshot.snapshot_id
    )

    runner = get_engine(engine)
    rules = rules_for(contract, {f.name: f.field_type for f in raw_table.schema().fields})
    passing = (
        frozenset(r.name for r in rules) - ALWAYS_HELD
        if contract.enforcement.on_violation is ViolationAction.ALERT
        else frozenset()
    )
    checked = check(engine, runner.load(new), rules)
    accepted = runner.accepted(checked, passing)
    violations = runner.violations(checked, TRACE_COLUMNS)
    quarantine = _quarantine_rows(violations, contract, staged.feed, passing=passing, run_id=run_id)
    held = quarantine.filter(pl.col("action") == "quarantined")
    transform = function(engine, staged.module, staged.function)
    return Computed(
        staged=staged,
        engine=engine,
        snapshot_id=upto.snapshot_id,
        read=f"{'all' if rebuild else consumed}..{upto.snapshot_id}",
        rebuild=rebuild,
        result=runner.to_arrow(transform(runner.scan(prior), accepted)),
        quarantine=quarantine,
        expected=raw_counts(new),
        accepted=Counter(runner.counts(accepted, "_batch_id")),
        held=Counter(held["batch_id"].to_list()),
    )


def commit(catalog: Catalog, computed: Computed, *, run_id: str) -> list[WriteResult]:
    """Write what `compute` produced: the quarantine, the staging table (its summary naming
    the raw snapshot consumed), then the batch books. Batches recorded by an earlier run
    (a rebuild re-reads them) get no second quarantine or books row."""
    staged, read, feed = computed.staged, computed.read, computed.staged.feed
    accounted = recorded_batches(catalog, ops.STAGING_BATCHES, feed)
    # (Batches quarantined by a run that crashed before its books count as done too.)
    done = accounted | recorded_batches(catalog, ops.QUARANTINE, feed)
    quarantine = computed.quarantine.filter(~pl.col("batch_id").is_in(list(done)))
    writes = []
    if quarantine.height:
        writes.append(
            write(
                catalog,
                ops.QUARANTINE,
                quarantine,
                batch_id=content_batch_id(ops.QUARANTINE.identifier_name, feed, read),
                run_id=run_id,
            )
        )
    staged_write = write(
        catalog,
        staged.target,
        computed.result,
        batch_id=content_batch_id(staged.target.identifier_name, read, computed.engine),
        run_id=run_id,
        mode="append" if staged.append and not computed.rebuild else "overwrite",
        properties={SOURCE_SNAPSHOT: str(computed.snapshot_id), ENGINE: computed.engine},
        commit_empty=True,
    )
    writes.append(staged_write)
    fresh = sorted(set(computed.expected) - accounted)
    if fresh:
        books = pl.DataFrame(
            {
                "feed": feed,
                "batch_id": fresh,
                "raw_rows": [computed.expected[b] for b in fresh],
                "staged_rows": [computed.accepted[b] for b in fresh],
                "quarantined_rows": [computed.held[b] for b in fresh],
                "staging_snapshot_id": staged_write.snapshot_id,
                "engine": computed.engine,
                "run_id": run_id,
                "staged_at": datetime.now(UTC),
            },
            schema_overrides={"staging_snapshot_id": pl.Int64},
        )
        writes.append(
            write(
                catalog,
                ops.STAGING_BATCHES,
                books,
                batch_id=content_batch_id(ops.STAGING_BATCHES.identifier_name, feed, read),
                run_id=run_id,
            )
        )
    return writes


def stage_table(
    catalog: Catalog,
    staged: Staged,
    contract: Contract,
    *,
    engine: EngineName = "polars",
    run_id: str,
    full: bool = False,
    max_rows: int = MAX_STAGED_ROWS,
) -> StageOutcome:
    """Stage what arrived in `staged.source` since the last run (everything if `full`),
    unless its feed is paused by schema drift; a raw backlog of appends in commits of at
    most `max_rows` rows each (see `compute`).

    Raises:
        StagingInvariantError: a batch's raw rows differ from staged + quarantined; nothing
            was written.
    """
    feed, name = staged.feed, staged.target.identifier_name
    drift = pause_if_drifted(catalog, feed, run_id=run_id)
    if drift:
        return StageOutcome(feed, name, "paused", drift=[str(c) for c in drift])
    steps: list[Computed] = []
    writes: list[WriteResult] = []
    # A backlog of appends is staged `max_rows` at a time, each step committed before the
    # next reads (a first run over months of clickstream would not fit in memory at once).
    while computed := compute(
        catalog, staged, contract, engine=engine, run_id=run_id, full=full, max_rows=max_rows
    ):
        if steps and computed.snapshot_id == steps[-1].snapshot_id:
            break  # the last step's commit was a retry's, found done: nothing moved on
        computed.check_books()
        writes += commit(catalog, computed, run_id=run_id)
        steps.append(computed)
        full = False  # later steps build on the first
    if not steps:
        return StageOutcome(feed, name, "unchanged")
    held = sum(sum(c.held.values()) for c in steps)
    return StageOutcome(
        feed,
        name,
        "staged",
        raw_rows=sum(sum(c.expected.values()) for c in steps),
        staged_rows=sum(sum(c.accepted.values()) for c in steps),
        quarantined_rows=held,
        alerted_rows=sum(c.quarantine.height for c in steps) - held,
        batches=sum(len(c.expected) for c in steps),
        writes=writes,
    )


def recorded_batches(catalog: Catalog, definition: TableDef, feed: str) -> set[str]:
    """The raw batches of `feed` an `ops` table (quarantine or books) holds rows for."""
    rows = read_rows(catalog, definition, f"feed = '{feed}'", ["batch_id"])
    return set(rows["batch_id"].to_list())


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE, task_run_name="stage-{name}")
def stage_task(settings: Settings, name: str, run_id: str, full: bool = False) -> StageOutcome:
    """Stage one table (a key of `STAGED`) from what its raw table gained since last time."""
    staged = STAGED[name]
    contracts = load_contracts(settings.contracts_dir)
    outcome = stage_table(
        open_catalog(settings),
        staged,
        contracts[staged.feed],
        engine=settings.engine,
        run_id=run_id,
        full=full,
    )
    logger = get_run_logger()
    if outcome.status == "paused":
        logger.warning(
            "%s paused by schema drift (%s): run `c360 contracts accept %s` after updating "
            "its contract",
            outcome.feed,
            "; ".join(outcome.drift),
            outcome.feed,
        )
    else:
        logger.info(
            "%s: %s, %d raw rows in %d batches -> %d staged, %d quarantined",
            name,
            outcome.status,
            outcome.raw_rows,
            outcome.batches,
            outcome.staged_rows,
            outcome.quarantined_rows,
        )
    return outcome


@flow(name="stage")
def stage_flow(settings: Settings, run_id: str, full: bool = False) -> list[StageOutcome]:
    """Stage every table from what its raw table gained since the last run."""
    return [stage_task(settings, name, run_id, full) for name in STAGED]
