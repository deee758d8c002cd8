"""Ground truth: which person every emitted record belongs to, and what each day emitted.

Downstream completeness, accuracy and identity resolution are measured against these
files (`$C360_HOME/sources/truth/`), never against the pipeline's own output. Each day
writes its own files (`records/day=NNNN.parquet`, `manifest/...`, `life_events/...`), so
re-emitting a day replaces exactly that day.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
from polars._typing import SchemaDict

from simulator.context import TRUTH_SCHEMA, write_atomically

RECORDS = "records"
MANIFEST = "manifest"
LIFE_EVENTS = "life_events"
LIFE_EVENTS_SCHEMA: SchemaDict = {"day": pl.Int32, "person_id": pl.String, "event": pl.String}
MANIFEST_SCHEMA: SchemaDict = {
    "day": pl.Int32,
    "source": pl.String,
    "dataset": pl.String,
    "rows": pl.Int64,
    "deletes": pl.Int64,
    "checksum": pl.String,
}


def frame_checksum(frame: pl.DataFrame, key: str) -> str:
    """A content checksum of `frame` that does not depend on row order."""
    return hashlib.sha256(frame.sort(key).write_csv().encode()).hexdigest()


def write_day(
    truth_dir: Path,
    day: int,
    records: pl.DataFrame,
    manifest: pl.DataFrame,
    life_events: pl.DataFrame,
) -> None:
    """Write one day's record-to-person map, emission manifest and life events."""
    for kind, frame, order in (
        (RECORDS, records, ["source", "source_record_id"]),
        (MANIFEST, manifest, ["source", "dataset"]),
        (LIFE_EVENTS, life_events, ["person_id", "event"]),
    ):
        folder = truth_dir / kind
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(frame.sort(order), folder / f"day={day:04d}.parquet")


def _files(truth_dir: Path, kind: str) -> list[Path]:
    return sorted((truth_dir / kind).glob("day=*.parquet"))


def _read(truth_dir: Path, kind: str, schema: SchemaDict) -> pl.DataFrame:
    files = _files(truth_dir, kind)
    if not files:
        return pl.DataFrame(schema=schema)
    return pl.concat([pl.read_parquet(f) for f in files])


def read_manifest(truth_dir: Path) -> pl.DataFrame:
    """Every day's manifest: day, source, dataset, rows, deletes, checksum."""
    return _read(truth_dir, MANIFEST, MANIFEST_SCHEMA)


def read_records(truth_dir: Path) -> pl.DataFrame:
    """Every emitted record's person: source, source_record_id, person_id."""
    return _read(truth_dir, RECORDS, TRUTH_SCHEMA)


def record_files(truth_dir: Path) -> list[Path]:
    """The files `read_records` reads (none where there is no truth), for a reader of its
    own: source, source_record_id, person_id."""
    return _files(truth_dir, RECORDS)


def read_life_events(truth_dir: Path) -> pl.DataFrame:
    """Every day's life events: day, person_id, event."""
    return _read(truth_dir, LIFE_EVENTS, LIFE_EVENTS_SCHEMA)
