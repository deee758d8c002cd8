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

UTC_MICROSECONDS = pa.timestamp("us", "UTC")


class SparkEngine:
    name: EngineName = "spark"

    def load(self, source: Source) -> DataFrame:
        """The source's rows, read by Spark from the table's Parquet files where they are
        local, with the table's current columns in order (a file written before a column was
        added holds nulls in it).

        Files on object storage are read through pyiceberg instead: the local session has no
        S3 connector.
        """
        from pyspark.sql.pandas.types import from_arrow_schema

        session = spark()
        schema = from_arrow_schema(source.schema(), prefer_timestamp_ntz=True)
        files = source.data_files()
        if not files:
            return session.createDataFrame([], schema)
        if not all(_is_local(f) for f in files):
            return session.createDataFrame(source.to_arrow(), schema)
        # The explicit schema reads every file by column name, as of the table's schema now.
        frame = session.read.schema(schema).parquet(*files)
        if source.batch_ids is not None:
            frame = frame.filter(frame["_batch_id"].isin(sorted(source.batch_ids)))
        return frame

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


def _is_local(path: str) -> bool:
    """Whether `path` is a plain path or a `file:` URI (not `s3://` and the like)."""
    return urlparse(path).scheme in ("", "file")


ENGINE = SparkEngine()
