"""The Spark engine: Parquet files (planned by pyiceberg) in, Spark frames through the
transforms, Arrow out."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow as pa

from transforms.engines import COLUMN, RULE, VALUE, EngineName, Source
from transforms.spark.session import spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

UTC_MICROSECONDS = pa.timestamp("us", "UTC")
# Where an Iceberg field id is in pyiceberg's Arrow schema, and in a Spark read schema.
PARQUET_FIELD_ID = b"PARQUET:field_id"
FIELD_ID = "parquet.field.id"


class SparkEngine:
    name: EngineName = "spark"

    def load(self, source: Source) -> DataFrame:
        """The source's rows, read by Spark from the table's Parquet files where they are
        local, with the table's current columns in order (see `_spark_schema`).

        Files on object storage are read through pyiceberg instead: the local session has no
        S3 connector.
        """
        session = spark()
        schema = _spark_schema(source.schema())
        files = source.data_files()
        if not files:
            return session.createDataFrame([], schema)
        if not all(_is_local(f) for f in files):
            return session.createDataFrame(source.to_arrow(), schema)
        frame = session.read.schema(schema).parquet(*files)
        if source.batch_ids is not None:
            frame = frame.filter(frame["_batch_id"].isin(sorted(source.batch_ids)))
        return frame

    scan = load

    def accepted(self, checked: DataFrame, passing: Collection[str] = ()) -> DataFrame:
        passed = checked[RULE].isNull() | checked[RULE].isin(list(passing))
        return checked.filter(passed).drop(RULE, COLUMN, VALUE)

    def counts(self, frame: DataFrame, column: str) -> dict[str, int]:
        grouped = frame.groupBy(column).count().collect()
        return {row[0]: row[1] for row in grouped}

    def violations(self, checked: DataFrame, columns: Collection[str]) -> pa.Table:
        rows = checked.filter(checked[RULE].isNotNull()).select(*columns, RULE, COLUMN, VALUE)
        return self.to_arrow(rows)

    def to_arrow(self, frame: DataFrame) -> pa.Table:
        table = frame.toArrow()
        # Spark hands timestamps over in the session's time zone: make them UTC microseconds.
        schema = pa.schema(
            f.with_type(UTC_MICROSECONDS)
            if pa.types.is_timestamp(f.type) and f.type.tz is not None
            else f
            for f in table.schema
        )
        return table.cast(schema)


def _spark_schema(schema: pa.Schema) -> StructType:
    """The Iceberg table's Arrow `schema` as the schema Spark reads its files with.

    Each column carries its Iceberg field id, and the session reads Parquet columns by id
    (`spark.sql.parquet.fieldId.read.enabled`), as Iceberg does: pyiceberg writes a column
    under a sanitized name (`Contact ID` as `Contact_x20ID`), and a file written before a
    column was added lacks it (read as nulls).
    """
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    return StructType(
        [
            StructField(
                field.name,
                from_arrow_type(field.type, prefer_timestamp_ntz=True),
                field.nullable,
                {FIELD_ID: int(field.metadata[PARQUET_FIELD_ID])},
            )
            for field in schema
        ]
    )


def _is_local(path: str) -> bool:
    """Whether `path` is a plain path or a `file:` URI (not `s3://` and the like)."""
    return urlparse(path).scheme in ("", "file")


ENGINE = SparkEngine()
