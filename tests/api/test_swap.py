"""A new serving copy swapped in under load: clients hammering a real server while copies
are published see no error, and every response comes wholly from one copy."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from api.app import VERSION_HEADER, create_app
from api.serving_copy import CuratedSnapshot, build_serving_copy, read_curated, serving_path
from tests.api.conftest import ApiLakehouse
from tests.api.servers import serving

pytestmark = pytest.mark.slow

CLIENTS = 4
COPIES = 6
# A string column of each mart that a copy's version is written into, so that every
# document says which copy it came from.
MARKED = {
    "customer_360": "first_name",
    "dim_customer": "first_name",
    "fct_orders": "currency",
    "fct_sessions": "device_id",
    "fct_support_tickets": "subject",
}


def marked(curated: CuratedSnapshot, version: str) -> CuratedSnapshot:
    """`curated` with every marked column set to `version`."""
    tables = {}
    for name, table in curated.tables.items():
        column = MARKED[name]
        index = table.schema.get_field_index(column)
        tables[name] = table.set_column(
            index, column, pa.array([version] * table.num_rows, table.schema.field(column).type)
        )
    return CuratedSnapshot(tables, curated.snapshots)


def marks(path: str, body: dict[str, Any]) -> set[str]:
    """The versions written in a response's documents."""
    if path.endswith("/history"):
        return {v["first_name"] for v in body["versions"]}
    if path.endswith("/timeline"):
        return (
            {o["currency"] for o in body["orders"]}
            | {s["device_id"] for s in body["sessions"]}
            | {t["subject"] for t in body["tickets"]}
        )
    if "customers" in body:
        return {c["first_name"] for c in body["customers"]}
    return {body["first_name"]}


def test_copies_swapped_under_load_serve_whole_versions_without_errors(
    api_lakehouse: ApiLakehouse, tmp_path: Path
) -> None:
    # A copy of its own: the other tests read the lakehouse's.
    api = api_lakehouse.settings.api.model_copy(update={"serving_path": tmp_path / "c.sqlite"})
    settings = api_lakehouse.settings.model_copy(update={"api": api})
    curated = read_curated(api_lakehouse.catalog())
    c360 = curated.tables["customer_360"]
    busy = c360.filter(pc.greater(c360["order_count"], 1))
    keys = busy["customer_key"].to_pylist()[:20]
    emails = [e.split(",")[0] for e in busy["emails"].to_pylist() if e][:20]
    paths = [
        *(f"/customers/{k}" for k in keys),
        *(f"/customers/{k}/history" for k in keys),
        *(f"/customers/{k}/timeline" for k in keys),
        *(f"/customers?email={e.upper()}" for e in emails),
    ]
    target = serving_path(settings)
    build_serving_copy(marked(curated, "v0"), target, version="v0")

    stop = threading.Event()
    seen: Counter[str] = Counter()
    failures: list[str] = []

    def hammer(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = offset
            while not stop.is_set():
                path = paths[i % len(paths)]
                i += 1
                response = http.get(path)
                version = response.headers.get(VERSION_HEADER, "?")
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                elif marks(path, response.json()) - {version}:
                    failures.append(f"{path}: {version} mixed with {marks(path, response.json())}")
                seen[version] += 1

    with serving(create_app(settings)) as url:
        threads = [threading.Thread(target=hammer, args=(n * 7,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            for n in range(1, COPIES):
                time.sleep(0.3)
                build_serving_copy(marked(curated, f"v{n}"), target, version=f"v{n}")
            time.sleep(0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        last = httpx.get(f"{url}/health").json()["serving_version"]

    assert not failures, failures[:5]
    assert last == f"v{COPIES - 1}"  # the newest copy is served, without a restart
    # Requests were served from several copies as they came.
    assert len(seen) >= COPIES - 1, seen
