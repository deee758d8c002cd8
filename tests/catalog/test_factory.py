"""The catalog factory on each backend: SQLite, PostgreSQL, and an S3 warehouse."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from c360.settings import CatalogSettings, Settings
from catalog.factory import CatalogUnavailableError, open_catalog
from catalog.registry import ensure_namespaces
from catalog.tables import raw
from catalog.writer import write
from tests.catalog.backend_checks import (
    ZONES,
    check_an_outside_reader_reads_back,
    check_ensure_all_creates_the_zones_and_each_table_once,
)
from tests.catalog.sample_data import crm_customer_rows

if TYPE_CHECKING:
    from tests.conftest import S3Server


def test_ensure_all_creates_the_zones_and_each_table_once(backend_settings: Settings) -> None:
    check_ensure_all_creates_the_zones_and_each_table_once(backend_settings)


def test_catalog_properties_open_the_same_catalog(backend_settings: Settings) -> None:
    rows = crm_customer_rows(["c1", "c2", "c3"], batch_id="b1")

    check_an_outside_reader_reads_back(backend_settings, rows)


@pytest.mark.integration
def test_writes_rows_to_an_s3_warehouse(
    make_settings: Callable[..., Settings], s3_server: S3Server
) -> None:
    prefix = s3_server.unique_prefix()
    settings = make_settings(
        catalog=CatalogSettings(warehouse=f"{prefix}/wh", s3=s3_server.s3_settings())
    )
    catalog = open_catalog(settings)
    rows = crm_customer_rows([f"c{i:03}" for i in range(50)], batch_id="b1")

    result = write(catalog, raw.CRM_CUSTOMERS, rows, batch_id="b1", run_id="r1")

    assert result.rows == 50
    table = catalog.load_table("raw.crm_customers")
    assert table.location().startswith(f"{prefix}/wh/")
    assert table.scan().to_arrow().sort_by("customer_id").to_pylist() == rows.to_pylist()
    # The files are in the bucket, not on local disk.
    key_prefix = prefix.removeprefix(f"s3://{s3_server.bucket}/")
    listing = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=key_prefix)
    keys = [o["Key"] for o in listing.get("Contents", [])]
    assert any(k.endswith(".parquet") and "/data/" in k for k in keys)
    assert any(k.endswith(".metadata.json") for k in keys)
    assert not (settings.home / "warehouse").exists()


def test_unreachable_postgresql_raises_a_one_line_error(
    make_settings: Callable[..., Settings],
) -> None:
    # A bound socket that never listens: connecting to it is refused, deterministically.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        uri = f"postgresql+psycopg2://c360:s3cret@127.0.0.1:{port}/iceberg"
        settings = make_settings(catalog=CatalogSettings(uri=uri))

        with pytest.raises(CatalogUnavailableError) as raised:
            open_catalog(settings)

    message = str(raised.value)
    assert "\n" not in message
    assert f"c360:***@127.0.0.1:{port}/iceberg" in message
    assert "s3cret" not in message
    assert "refused" in message
    assert "--profile" in message


def test_threads_opening_a_new_sqlite_catalog_at_once_all_succeed(settings: Settings) -> None:
    start = threading.Barrier(4)

    def open_after_barrier() -> list[tuple[str, ...]]:
        start.wait()
        catalog = open_catalog(settings)
        ensure_namespaces(catalog)
        return sorted(catalog.list_namespaces())

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: open_after_barrier(), range(4)))

    assert results == [ZONES] * 4
