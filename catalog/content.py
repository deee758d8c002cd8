"""Content digests of Iceberg tables: equal exactly when two snapshots hold the same rows,
whatever their order or file layout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl
from pyiceberg.table import Table

# polars' row hash is 64 bits; four seeds make it 256, so distinct rows never collide.
SEEDS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Digest:
    rows: int
    sha256: str


def frame_digest(frame: pl.DataFrame) -> Digest:
    """The digest of a frame's column names, types and multiset of rows."""
    digest = hashlib.sha256(repr(list(frame.schema.items())).encode())
    if frame.height:
        hashes = pl.DataFrame({f"h{seed}": frame.hash_rows(seed) for seed in SEEDS}).sort(pl.all())
        for column in hashes.columns:
            digest.update(hashes[column].to_numpy().tobytes())
    return Digest(frame.height, digest.hexdigest())


def table_digest(table: Table, snapshot_id: int | None) -> Digest:
    """The digest of `table` at `snapshot_id` (None: before its first snapshot, no rows)."""
    scan = table.scan(snapshot_id=snapshot_id) if snapshot_id is not None else None
    arrow = scan.to_arrow() if scan is not None else table.schema().as_arrow().empty_table()
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return frame_digest(frame)
