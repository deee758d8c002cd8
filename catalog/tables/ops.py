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

TABLES = (PIPELINE_RUNS, TABLE_WRITES)
