"""Ground truth files: per-day records, manifest and life events, read back across days."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from simulator.truth import (
    LIFE_EVENTS_SCHEMA,
    MANIFEST_SCHEMA,
    frame_checksum,
    read_life_events,
    read_manifest,
    read_records,
    write_day,
)


def test_manifest_checksum_ignores_row_order() -> None:
    frame = pl.DataFrame({"id": ["b", "a", "c"], "value": [2, 1, 3]})

    assert frame_checksum(frame, "id") == frame_checksum(frame.reverse(), "id")
    assert frame_checksum(frame, "id") != frame_checksum(frame.head(2), "id")
    assert frame_checksum(frame, "id") != frame_checksum(
        frame.with_columns(value=pl.col("value") * 10), "id"
    )


def _day(day: int, ids: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    records = pl.DataFrame(
        {"source": "crm", "source_record_id": ids, "person_id": [f"P{i}" for i in ids]}
    )
    manifest = pl.DataFrame(
        [
            {
                "day": day,
                "source": "crm",
                "dataset": "crm.customers",
                "rows": len(ids),
                "deletes": 0,
                "checksum": f"c{day}",
            }
        ],
        schema=MANIFEST_SCHEMA,
    )
    events = pl.DataFrame(
        {"day": [day], "person_id": [f"P{ids[0]}"], "event": ["move"]}, schema=LIFE_EVENTS_SCHEMA
    )
    return records, manifest, events


def test_days_are_read_back_together_and_a_rewritten_day_replaces_itself(tmp_path: Path) -> None:
    write_day(tmp_path, 0, *_day(0, ["C2", "C1"]))
    write_day(tmp_path, 1, *_day(1, ["C9"]))
    write_day(tmp_path, 1, *_day(1, ["C3"]))  # day 1 emitted again after a crash

    assert read_records(tmp_path)["source_record_id"].to_list() == ["C1", "C2", "C3"]
    assert read_manifest(tmp_path).select("day", "rows").rows() == [(0, 2), (1, 1)]
    assert read_life_events(tmp_path).select("day", "person_id").rows() == [(0, "PC2"), (1, "PC3")]


def test_an_empty_truth_folder_reads_as_empty_frames(tmp_path: Path) -> None:
    assert read_records(tmp_path).is_empty()
    assert read_manifest(tmp_path).schema == pl.Schema(MANIFEST_SCHEMA)
    assert read_life_events(tmp_path).schema == pl.Schema(LIFE_EVENTS_SCHEMA)
