"""Building the serving copy: moved into place whole, readers of the old copy unharmed, a
failed build changes nothing, clear errors for what a user can get wrong."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute
import pytest
from pyiceberg.catalog import Catalog

from api.serving_copy import (
    CuratedSnapshot,
    ServingCopyError,
    build_serving_copy,
    download_serving_copy,
    read_curated,
)
from api.store import ServingCopyMissingError, ServingStore
from bench.workloads.api_lookup import synthetic_curated
from c360.settings import S3Settings


@pytest.fixture(scope="module")
def curated() -> CuratedSnapshot:
    return synthetic_curated(200, seed=3)


def test_a_new_copy_replaces_the_old_and_open_readers_keep_theirs(
    curated: CuratedSnapshot, tmp_path: Path
) -> None:
    path = tmp_path / "serving" / "customers.sqlite"
    build_serving_copy(curated, path, version="one")
    store = ServingStore(path)
    first = store.current()
    assert store.current() is first  # same file: same connection

    renamed = curated.tables["customer_360"].set_column(
        1, "first_name", pa.array(["Renamed"] * 200, pa.large_string())
    )
    build_serving_copy(
        CuratedSnapshot({**curated.tables, "customer_360": renamed}), path, version="two"
    )

    second = store.current()
    assert (first.version, second.version) == ("one", "two")
    old = first.document("profile", 1)
    new = second.document("profile", 1)
    assert old is not None
    assert new is not None
    assert json.loads(old)["first_name"] == "First1"  # the replaced file is still readable
    assert json.loads(new)["first_name"] == "Renamed"
    assert sorted(p.name for p in path.parent.iterdir()) == ["customers.sqlite"]


def test_a_failed_build_leaves_the_copy_in_place_and_no_scraps(
    curated: CuratedSnapshot, tmp_path: Path
) -> None:
    path = tmp_path / "customers.sqlite"
    build_serving_copy(curated, path, version="good")
    broken = curated.tables["customer_360"].drop_columns(["emails"])
    with pytest.raises(Exception, match="emails"):
        build_serving_copy(CuratedSnapshot({**curated.tables, "customer_360": broken}), path)
    assert ServingStore(path).current().version == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["customers.sqlite"]


def test_the_copy_records_its_build_and_the_marts_snapshots(
    curated: CuratedSnapshot, tmp_path: Path
) -> None:
    info = build_serving_copy(curated, tmp_path / "c.sqlite", timeline_limit=2)
    with sqlite3.connect(info.path) as con:
        meta = {k: json.loads(v) for k, v in con.execute("select name, value from meta")}
        timelines = [json.loads(t) for (t,) in con.execute("select timeline from customers")]
    assert meta["version"] == info.version
    assert meta["customers"] == info.customers == 200
    assert max(len(t["orders"]) for t in timelines) == 2  # cut to the newest two


def test_the_copy_stores_one_as_of_day_and_serves_the_day_counts_counted_to_it(
    curated: CuratedSnapshot, tmp_path: Path
) -> None:
    info = build_serving_copy(curated, tmp_path / "c.sqlite")
    served = ServingStore(info.path).current()
    c360 = curated.tables["customer_360"].to_pylist()

    newest = max(row["last_order_at"] for row in c360 if row["last_order_at"] is not None)
    assert served.as_of_day == (newest.date() - date(1970, 1, 1)).days + 1
    for row in c360:
        profile = json.loads(served.document("profile", row["customer_key"]) or b"")
        assert profile["days_since_last_order"] == row["days_since_last_order"]
        assert profile["days_since_last_activity"] == row["days_since_last_activity"]


def test_day_counts_that_count_to_different_days_are_a_clear_error(
    curated: CuratedSnapshot, tmp_path: Path
) -> None:
    c360 = curated.tables["customer_360"]
    counts = pa.compute.add(c360["days_since_last_order"], pa.scalar(1, pa.int32()))
    column = c360.schema.get_field_index("days_since_last_order")
    skewed = c360.set_column(column, c360.schema.field(column), counts)

    with pytest.raises(ServingCopyError, match="not to one as-of date"):
        build_serving_copy(
            CuratedSnapshot({**curated.tables, "customer_360": skewed}), tmp_path / "c.sqlite"
        )


def test_an_unpublished_lakehouse_is_a_clear_error(catalog: Catalog) -> None:
    with pytest.raises(ServingCopyError, match="customer_360 has no snapshot"):
        read_curated(catalog)


def test_a_file_that_is_not_a_copy_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "customers.sqlite"
    path.write_text("not a database")
    with pytest.raises(ServingCopyMissingError, match="not a serving copy"):
        ServingStore(path).current()


def test_a_serving_uri_that_is_not_s3_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServingCopyError, match="s3://bucket/key"):
        download_serving_copy("file:///tmp/x", tmp_path / "c.sqlite", S3Settings())
