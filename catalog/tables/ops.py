"""Ops zone: the pipeline's own records (runs, what each run read and wrote)."""

from pyiceberg.types import DoubleType, IntegerType, LongType, StringType, TimestamptzType

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
    ),
    identifier=("run_id",),
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

TABLES: tuple[TableDef, ...] = (
    PIPELINE_RUNS,
    TABLE_WRITES,
    SCHEMA_CHANGES,
    INGEST_LEDGER,
)
