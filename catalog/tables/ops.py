"""Ops zone: the pipeline's own records (runs, what each run read and wrote, what staging
held back, data quality and alerts)."""

from pyiceberg.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestamptzType,
)

from catalog.tables.definition import Column, TableDef, Zone

PIPELINE_RUNS = TableDef(
    zone=Zone.OPS,
    name="pipeline_runs",
    doc="One row per finished `c360 run`: its parameters, outcome and timing.",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("profile", StringType(), required=True),
        Column("scale", StringType(), required=True),
        Column("seed", IntegerType(), required=True),
        Column("status", StringType(), required=True),
        Column("started_at", TimestamptzType(), required=True),
        Column("finished_at", TimestamptzType(), required=True),
        Column("duration_s", DoubleType(), required=True),
        Column("code_version", StringType()),
        Column(
            "parameters",
            StringType(),
            doc="JSON: what the run was asked to do (days advanced, simulated day, engine, "
            "dbt target)",
        ),
    ),
    identifier=("run_id",),
)

RUN_SNAPSHOTS = TableDef(
    zone=Zone.OPS,
    name="run_snapshots",
    doc="A run's manifest: the snapshot of every table it read, and of every staging and "
    "curated table when it finished. `c360 replay` rebuilds a run from it.",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("table_name", StringType(), required=True),
        Column(
            "role",
            StringType(),
            required=True,
            doc="read (an input: a raw table as staged, or the prior state a step builds on) "
            "or result (the table as the run left it)",
        ),
        Column("snapshot_id", LongType(), doc="null: the table had no snapshot yet"),
        Column("recorded_at", TimestamptzType(), required=True),
    ),
)

TABLE_WRITES = TableDef(
    zone=Zone.OPS,
    name="table_writes",
    doc="One row per table a run committed to: the snapshot it produced and the rows added.",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("table_name", StringType(), required=True),
        Column("snapshot_id", LongType()),
        Column("rows_written", LongType(), required=True),
        Column("batch_id", StringType(), required=True),
        Column("written_at", TimestamptzType(), required=True),
    ),
)


SCHEMA_CHANGES = TableDef(
    zone=Zone.OPS,
    name="schema_changes",
    doc="One row per schema change detected in a source: a column added to or removed from it.",
    columns=(
        Column("table_name", StringType(), required=True, doc="the raw table it lands in"),
        Column("column_name", StringType(), required=True),
        Column("change", StringType(), required=True, doc="added, removed, renamed or retyped"),
        Column("detected_at", TimestamptzType(), required=True),
        Column("batch_id", StringType(), required=True, doc="the ingest batch that saw it first"),
        Column("detail", StringType(), doc="what it was before, e.g. `integer -> string`"),
    ),
)


INGEST_LEDGER = TableDef(
    zone=Zone.OPS,
    name="ingest_ledger",
    doc="One row per landing-zone file processed: landed into raw, or quarantined and why.",
    columns=(
        Column("landing_key", StringType(), required=True, doc="the key it was dropped at"),
        Column("file_size", LongType(), required=True, doc="bytes"),
        Column("file_checksum", StringType(), required=True, doc="sha256 of the bytes, hex"),
        Column("feed", StringType(), required=True, doc="e.g. loyalty, tickets"),
        Column("file_format", StringType(), doc="json, jsonl, csv, xml or parquet"),
        Column("status", StringType(), required=True, doc="landed or quarantined"),
        Column("reason", StringType(), doc="why it was quarantined"),
        Column("quarantine_key", StringType(), doc="where a quarantined file was moved"),
        Column("raw_table", StringType(), doc="the raw table its rows landed in"),
        Column("rows", LongType(), doc="records the file carried (landed files)"),
        Column("batch_id", StringType(), doc="the raw commit's batch id (landed files)"),
        Column("file_schema", StringType(), doc="JSON: each column, what it arrived as, raw name"),
        Column("file_header", StringType(), doc="JSON: the file's own metadata (counts, dates)"),
        Column("run_id", StringType()),
        Column("processed_at", TimestamptzType(), required=True),
    ),
)

QUARANTINE = TableDef(
    zone=Zone.OPS,
    name="quarantine",
    doc="One row per raw row that broke its feed's data contract at staging.",
    columns=(
        Column("feed", StringType(), required=True, doc="the raw table's name, e.g. orders_orders"),
        Column("contract_id", StringType(), required=True),
        Column("rule", StringType(), required=True, doc="see catalog/contracts/rules.py"),
        Column("column_name", StringType(), required=True),
        Column("value", StringType(), doc="the offending value, as text"),
        Column(
            "action",
            StringType(),
            required=True,
            doc="quarantined (held out of staging) or alerted (staged, as the contract asks)",
        ),
        Column("batch_id", StringType(), required=True, doc="the raw ingest batch of the row"),
        Column("source_file", StringType(), doc="with source_position, finds the raw row"),
        Column("source_position", StringType()),
        Column("ingested_at", TimestamptzType(), required=True),
        Column("run_id", StringType(), required=True),
        Column("quarantined_at", TimestamptzType(), required=True),
    ),
    partition_by=(("quarantined_at", "month"),),
)

STAGING_BATCHES = TableDef(
    zone=Zone.OPS,
    name="staging_batches",
    doc="One row per raw batch staged: raw rows = staged + quarantined, checked before commit.",
    columns=(
        Column("feed", StringType(), required=True),
        Column("batch_id", StringType(), required=True, doc="the raw ingest batch"),
        Column("raw_rows", LongType(), required=True, doc="rows the raw commit recorded"),
        Column("staged_rows", LongType(), required=True, doc="rows that passed the contract"),
        Column("quarantined_rows", LongType(), required=True),
        Column("staging_snapshot_id", LongType(), doc="the staging commit that consumed it"),
        Column("engine", StringType(), required=True),
        Column("run_id", StringType(), required=True),
        Column("staged_at", TimestamptzType(), required=True),
    ),
)

CONTRACT_ACCEPTANCES = TableDef(
    zone=Zone.OPS,
    name="contract_acceptances",
    doc="One row per `c360 contracts accept`: the schema changes a contract version accepted.",
    columns=(
        Column("feed", StringType(), required=True),
        Column("contract_id", StringType(), required=True),
        Column("version", IntegerType(), required=True),
        Column(
            "accepted_through",
            TimestamptzType(),
            required=True,
            doc="the newest schema change accepted; later ones pause the feed again",
        ),
        Column("changes", StringType(), required=True, doc="what was accepted, one per line"),
        Column("accepted_at", TimestamptzType(), required=True),
    ),
)

ALERTS = TableDef(
    zone=Zone.OPS,
    name="alerts",
    doc="One row per alert raised or resolved; an alert id is raised once while it persists.",
    columns=(
        Column("alert_id", StringType(), required=True, doc="stable for one condition"),
        Column("rule", StringType(), required=True, doc="e.g. schema_drift"),
        Column("subject", StringType(), required=True, doc="the feed or step it concerns"),
        Column("status", StringType(), required=True, doc="raised or resolved"),
        Column("detail", StringType(), required=True),
        Column("run_id", StringType()),
        Column("at", TimestamptzType(), required=True),
    ),
)

DQ_RESULTS = TableDef(
    zone=Zone.OPS,
    name="dq_results",
    doc="One row per data-quality SLO measured for a feed in a run (the seed's table 1.2.2).",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("feed", StringType(), required=True),
        Column("metric", StringType(), required=True, doc="completeness, uniqueness, ..."),
        Column("value", DoubleType(), doc="percent, or a count for schema_drift; null: n/a"),
        Column("threshold", StringType(), required=True, doc="e.g. >= 99.5"),
        Column("passed", BooleanType(), doc="null when it could not be measured"),
        Column("detail", StringType(), doc="the figures behind the value, or why n/a"),
        Column("measured_at", TimestamptzType(), required=True),
    ),
    partition_by=(("measured_at", "month"),),
)

IDENTITY_HISTORY = TableDef(
    zone=Zone.OPS,
    name="identity_history",
    doc="One row per customer_key a resolution merged, split or retired (never silently).",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("old_key", LongType(), required=True),
        Column("new_key", LongType(), doc="null when retired"),
        Column("change", StringType(), required=True, doc="merge, split or retired"),
        Column("records", LongType(), required=True, doc="records that moved"),
        Column("reason", StringType(), required=True),
        Column("recorded_at", TimestamptzType(), required=True),
    ),
)

IDENTITY_METRICS = TableDef(
    zone=Zone.OPS,
    name="identity_metrics",
    doc="Pairwise precision, recall and F1 of a run's identity resolution against the truth.",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("scope", StringType(), required=True, doc="all, or one source"),
        Column("records", LongType(), required=True, doc="records in scope (truth known)"),
        Column(
            "unresolved", LongType(), required=True, doc="of which with no identity: singletons"
        ),
        Column("persons", LongType(), required=True),
        Column("clusters", LongType(), required=True),
        Column("true_pairs", LongType(), required=True),
        Column("predicted_pairs", LongType(), required=True),
        Column("correct_pairs", LongType(), required=True),
        Column("precision", DoubleType(), required=True),
        Column("recall", DoubleType(), required=True),
        Column("f1", DoubleType(), required=True),
        Column("measured_at", TimestamptzType(), required=True),
    ),
    partition_by=(("measured_at", "month"),),
)

IDENTITY_MODELS = TableDef(
    zone=Zone.OPS,
    name="identity_models",
    doc="One row per Splink model identity resolution trained; a run scores pairs with the "
    "newest until the profiles change by 5 % (`transforms/identity/probabilistic.py`).",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("spec", StringType(), required=True, doc="digest of the code that trained it"),
        Column("profiles", LongType(), required=True, doc="profiles it was trained on"),
        Column("parameters", StringType(), required=True, doc="Splink's model JSON"),
        Column("trained_at", TimestamptzType(), required=True),
    ),
)

RUN_STEPS = TableDef(
    zone=Zone.OPS,
    name="run_steps",
    doc="One row per step of a `c360 run` (simulate, ingest, stage, ...): its outcome, time, "
    "rows and what it committed (from the snapshots it made, `flows/observe/steps.py`).",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("step", StringType(), required=True),
        Column("status", StringType(), required=True, doc="completed or failed"),
        Column("started_at", TimestamptzType(), required=True),
        Column("finished_at", TimestamptzType(), required=True),
        Column("duration_s", DoubleType(), required=True),
        Column("rows_in", LongType(), doc="rows the step read; null: not counted for it"),
        Column("rows_out", LongType(), required=True, doc="rows its commits added"),
        Column("bytes_written", LongType(), required=True, doc="data files its commits added"),
        Column("files_written", LongType(), required=True),
        Column("snapshots_created", LongType(), required=True),
        Column("bytes_scanned", LongType(), doc="data files it read; null: not estimated"),
        Column("error", StringType(), doc="why it failed"),
    ),
)

SOURCE_FRESHNESS = TableDef(
    zone=Zone.OPS,
    name="source_freshness",
    doc="One row per feed per run: how fresh raw is, and how long source data waits for "
    "capture, against the feed's latency tier (`flows/observe/freshness.py`).",
    columns=(
        Column("run_id", StringType(), required=True),
        Column("feed", StringType(), required=True),
        Column("tier", IntegerType(), required=True, doc="the seed's latency tier"),
        Column("sla_minutes", DoubleType(), required=True),
        Column(
            "newest_at", TimestamptzType(), doc="when the newest data raw holds became available"
        ),
        Column("freshness_lag_s", DoubleType(), doc="measured_at minus newest_at"),
        Column(
            "replication_lag_s",
            DoubleType(),
            required=True,
            doc="how long the oldest source data not yet captured has waited; 0: caught up",
        ),
        Column("measured_at", TimestamptzType(), required=True),
    ),
)

TABLES: tuple[TableDef, ...] = (
    PIPELINE_RUNS,
    TABLE_WRITES,
    RUN_SNAPSHOTS,
    SCHEMA_CHANGES,
    INGEST_LEDGER,
    QUARANTINE,
    STAGING_BATCHES,
    CONTRACT_ACCEPTANCES,
    ALERTS,
    DQ_RESULTS,
    IDENTITY_HISTORY,
    IDENTITY_METRICS,
    IDENTITY_MODELS,
    RUN_STEPS,
    SOURCE_FRESHNESS,
)
