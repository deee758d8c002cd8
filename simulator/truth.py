"""Ground truth: which person every emitted record belongs to, and what each day emitted.

Downstream completeness, accuracy and identity resolution are measured against these
files (`$C360_HOME/sources/truth/`), never against the pipeline's own output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

RECORDS_FILE = "records.parquet"
MANIFEST_FILE = "manifest.parquet"


def frame_checksum(frame: pl.DataFrame, key: str) -> str:
    """A content checksum of `frame` that does not depend on row order."""
    return hashlib.sha256(frame.sort(key).write_csv().encode()).hexdigest()


def manifest_row(day: int, source: str, frame: pl.DataFrame, key: str) -> dict[str, object]:
    return {
        "day": day,
        "source": source,
        "rows": frame.height,
        "checksum": frame_checksum(frame, key),
    }


def write_truth(truth_dir: Path, records: pl.DataFrame, manifest: pl.DataFrame) -> None:
    """Write the record-to-person map and the per-day emission manifest."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    records.sort("source", "source_record_id").write_parquet(truth_dir / RECORDS_FILE)
    manifest.sort("day", "source").write_parquet(truth_dir / MANIFEST_FILE)


def read_manifest(truth_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(truth_dir / MANIFEST_FILE)


def read_records(truth_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(truth_dir / RECORDS_FILE)
