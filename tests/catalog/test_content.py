"""Content digests: equal for the same rows in any order or file layout, different for any
changed value, row or column."""

from __future__ import annotations

import polars as pl
from pyiceberg.catalog import Catalog

from catalog.content import frame_digest, table_digest
from catalog.tables import ops
from catalog.writer import write

FRAME = pl.DataFrame(
    {
        "id": [1, 2, 3, 3],
        "name": ["a", None, "c", "c"],
        "tags": [["x"], [], None, None],
    }
)


def test_row_order_does_not_matter() -> None:
    assert frame_digest(FRAME) == frame_digest(FRAME.reverse())
    assert frame_digest(FRAME) == frame_digest(FRAME.sample(fraction=1.0, shuffle=True, seed=7))


def test_any_change_changes_the_digest() -> None:
    digest = frame_digest(FRAME)
    changed_value = FRAME.with_columns(name=pl.Series(["a", "b", "c", "c"]))
    one_duplicate_fewer = FRAME.head(3)
    renamed = FRAME.rename({"name": "label"})
    retyped = FRAME.with_columns(pl.col("id").cast(pl.Int32))
    for other in (changed_value, one_duplicate_fewer, renamed, retyped):
        assert frame_digest(other) != digest
    assert frame_digest(one_duplicate_fewer).rows == 3


def test_a_table_digest_follows_its_snapshots(catalog: Catalog) -> None:
    rows = pl.DataFrame(
        {
            "run_id": ["r1", "r1"],
            "table_name": ["raw.a", "raw.b"],
            "role": ["read", "result"],
            "snapshot_id": [1, None],
            "recorded_at": pl.datetime_range(
                pl.datetime(2026, 1, 1, time_zone="UTC"),
                pl.datetime(2026, 1, 2, time_zone="UTC"),
                "1d",
                eager=True,
            ),
        },
        schema_overrides={"snapshot_id": pl.Int64},
    )
    first = write(catalog, ops.RUN_SNAPSHOTS, rows.head(1), batch_id="b1", run_id="r1")
    second = write(catalog, ops.RUN_SNAPSHOTS, rows.tail(1), batch_id="b2", run_id="r1")
    table = catalog.load_table(ops.RUN_SNAPSHOTS.identifier_name)
    at_first = table_digest(table, first.snapshot_id)
    at_second = table_digest(table, second.snapshot_id)
    assert (at_first.rows, at_second.rows) == (1, 2)
    assert at_first != at_second
    assert table_digest(table, None).rows == 0
    # The same rows written in one file instead of two: the same digest.
    write(catalog, ops.RUN_SNAPSHOTS, rows, batch_id="b3", run_id="r1", mode="overwrite")
    current = table.refresh().current_snapshot()
    assert current is not None
    assert current.snapshot_id != second.snapshot_id
    assert table_digest(table, current.snapshot_id) == at_second
