"""Every endpoint against a tiny run's data: each value equal to what `curated` holds, read
independently with pyiceberg; lookups by un-normalised identifiers; clear 404s and 422s;
health, metrics and the API key."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import polars as pl
import pytest
from pydantic import SecretStr
from pyiceberg.types import DateType, DecimalType, TimestamptzType

from api.app import API_KEY_HEADER, VERSION_HEADER, create_app
from api.serving_copy import LIST_COLUMNS, SERVED
from api.store import ServingStore
from catalog.tables.definition import TableDef
from tests.api.conftest import TIMELINE_LIMIT, ApiLakehouse
from tests.api.servers import serving

pytestmark = pytest.mark.slow

SAMPLE = 150  # identifiers looked up per kind


def as_served(row: dict[str, Any], definition: TableDef) -> dict[str, Any]:
    """A curated row as the API writes it: ISO timestamps, decimal strings, list arrays."""
    served: dict[str, Any] = {}
    for column in definition.columns:
        if column.name not in row:
            continue
        value = row[column.name]
        if column.name in LIST_COLUMNS:
            served[column.name] = value.split(",") if value else []
        elif value is not None and isinstance(column.type, TimestamptzType):
            served[column.name] = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif value is not None and isinstance(column.type, DecimalType):
            served[column.name] = str(value)
        elif value is not None and isinstance(column.type, DateType):
            served[column.name] = value.isoformat()
        else:
            served[column.name] = value
    return served


def rows_by_key(frame: pl.DataFrame, sort: list[str], descending: bool = False) -> dict[int, Any]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in frame.sort(sort, descending=descending).iter_rows(named=True):
        key = row.pop("customer_key")
        grouped.setdefault(key, []).append(row)
    return grouped


def test_every_profile_equals_its_customer_360_row(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    rows = api_lakehouse.curated("customer_360").iter_rows(named=True)
    for row in rows:
        response = client.get(f"/customers/{row['customer_key']}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == as_served(row, SERVED["customer_360"])
    # Money is exact: the served string is the decimal itself.
    served = client.get(f"/customers/{row['customer_key']}").json()
    assert Decimal(served["lifetime_value"]) == row["lifetime_value"]


def test_history_windows_equal_dim_customer(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    versions = rows_by_key(
        api_lakehouse.curated("dim_customer"), ["customer_key", "valid_from", "customer_version_id"]
    )
    assert any(len(v) > 1 for v in versions.values()), "day 1 changed nobody: no SCD2 windows"
    for key, expected in versions.items():
        history = client.get(f"/customers/{key}/history").json()
        assert history == {
            "customer_key": key,
            "versions": [as_served(v, SERVED["dim_customer"]) for v in expected],
        }
        windows = history["versions"]
        # Consecutive windows meet: each one ends where the next begins.
        assert all(a["valid_to"] == b["valid_from"] for a, b in itertools.pairwise(windows))


def test_timeline_is_each_customers_newest_facts(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    facts = {
        "orders": ("fct_orders", ["ordered_at", "order_id"]),
        "sessions": ("fct_sessions", ["started_at", "session_id"]),
        "tickets": ("fct_support_tickets", ["created_at", "ticket_id"]),
    }
    newest = {
        kind: rows_by_key(api_lakehouse.curated(mart), order, descending=True)
        for kind, (mart, order) in facts.items()
    }
    assert max(len(v) for v in newest["orders"].values()) > TIMELINE_LIMIT
    for key in api_lakehouse.curated("customer_360")["customer_key"]:
        timeline = client.get(f"/customers/{key}/timeline").json()
        assert timeline["customer_key"] == key
        for kind, (mart, _) in facts.items():
            expected = newest[kind].get(key, [])[:TIMELINE_LIMIT]
            assert timeline[kind] == [as_served(r, SERVED[mart]) for r in expected], (key, kind)


def _mangled_email(email: str, rng: random.Random) -> str:
    return rng.choice([" ", "\t", ""]) + email.upper() + rng.choice(["  ", "\u00a0", ""])


def _mangled_phone(phone: str, rng: random.Random) -> str:
    d = phone.removeprefix("+1")
    return rng.choice(
        [f"({d[:3]}) {d[3:6]}-{d[6:]}", f"+1 {d[:3]}.{d[3:6]}.{d[6:]}", f"1{d}", f" {d} "]
    )


def _keys_by(frame: pl.DataFrame, column: str) -> dict[str, set[int]]:
    exploded = (
        frame.select("customer_key", pl.col(column).str.split(","))
        .explode(column)
        .drop_nulls(column)
    )
    owners: dict[str, set[int]] = {}
    for key, value in exploded.iter_rows():
        owners.setdefault(value, set()).add(key)
    return owners


def _found(response: httpx.Response) -> set[int]:
    assert response.status_code == 200, response.text
    return {c["customer_key"] for c in response.json()["customers"]}


def test_lookup_by_email_and_phone_normalises_the_input(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    c360 = api_lakehouse.curated("customer_360")
    rng = random.Random(7)
    for column, param, mangle in (
        ("emails", "email", _mangled_email),
        ("phones", "phone", _mangled_phone),
    ):
        owners = _keys_by(c360, column)
        for value in rng.sample(sorted(owners), SAMPLE):
            given = mangle(value, rng)
            assert _found(client.get("/customers", params={param: given})) == owners[value], given


def test_lookup_by_source_record_finds_the_xref_customer(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    xref = pl.from_arrow(
        api_lakehouse.catalog().load_table("staging.customer_xref").scan().to_arrow()
    )
    assert isinstance(xref, pl.DataFrame)
    # Clickstream records are events; the API finds a visitor by device instead (below).
    records = xref.filter(pl.col("source") != "clickstream")
    rows = list(records.select("source", "source_record_id", "customer_key").iter_rows())
    sample = random.Random(3).sample(rows, SAMPLE)
    assert {source for source, _, _ in sample} >= {"crm", "orders", "legacy"}
    for source, record_id, key in sample:
        found = _found(client.get("/customers", params={"source": source, "id": f" {record_id}"}))
        assert found == {key}, (source, record_id)


def test_lookup_by_clickstream_device_finds_its_customers(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    owners = _keys_by(api_lakehouse.curated("customer_360"), "device_ids")
    for device in random.Random(5).sample(sorted(owners), SAMPLE):
        found = _found(client.get("/customers", params={"source": "clickstream", "id": device}))
        assert found == owners[device]


def test_a_shared_email_returns_every_customer_with_it(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    shared = {e: k for e, k in _keys_by(api_lakehouse.curated("customer_360"), "emails").items()}
    email, keys = max(shared.items(), key=lambda item: len(item[1]))
    customers = client.get("/customers", params={"email": email}).json()["customers"]
    assert [c["customer_key"] for c in customers] == sorted(keys)


@pytest.mark.parametrize(
    "path",
    [
        "/customers/987654321",
        "/customers/987654321/history",
        "/customers/987654321/timeline",
        "/customers?email=nobody@example.invalid",
        "/customers?phone=555-000-0000",
        "/customers?source=crm&id=NO-SUCH-ID",
    ],
)
def test_unknown_customers_are_a_clear_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no customer")


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/customers/abc", ["path", "customer_key"]),
        ("/customers/-1", ["path", "customer_key"]),
        ("/customers/99999999999999999999", ["path", "customer_key"]),
        ("/customers/1.5/history", ["path", "customer_key"]),
        ("/customers", ["query"]),
        ("/customers?email=a@b.c&phone=5551234567", ["query"]),
        ("/customers?email=%20%20", ["query", "email"]),
        ("/customers?phone=12345", ["query", "phone"]),
        ("/customers?source=crm", ["query", "id"]),
        ("/customers?id=C1", ["query", "source"]),
        ("/customers?source=fax&id=1", ["query", "source"]),
        ("/customers?source=crm&id=%20", ["query", "id"]),
        (f"/customers?email={'x' * 400}", ["query", "email"]),
    ],
)
def test_malformed_input_is_a_422_naming_the_parameter(
    client: httpx.Client, path: str, where: list[str]
) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == where


def test_health_names_the_curated_snapshot_and_its_age(
    api_lakehouse: ApiLakehouse, client: httpx.Client
) -> None:
    snapshot = api_lakehouse.catalog().load_table("curated.customer_360").current_snapshot()
    assert snapshot is not None
    health = client.get("/health").json()
    # The publish flow's hook built the copy from the snapshot day 1 published.
    assert health["curated_snapshot_id"] == snapshot.snapshot_id
    committed = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=UTC)
    assert datetime.fromisoformat(health["curated_committed_at"]) == committed
    assert 0 <= health["snapshot_age_seconds"] < 3600
    assert health["customers"] == api_lakehouse.curated("customer_360").height
    assert set(health["snapshots"]) == set(SERVED)
    profile = client.get("/customers/1")
    assert profile.headers[VERSION_HEADER] == health["serving_version"]


def test_metrics_count_requests_and_time_them_by_route(client: httpx.Client) -> None:
    client.get("/customers/1")
    client.get("/customers/987654321")
    text = client.get("/metrics").text
    lines = text.splitlines()
    assert any(
        line.startswith('c360_api_requests_total{method="GET",route="/customers/{customer_key}"')
        and 'status="404"' in line
        for line in lines
    ), text
    assert any(
        line.startswith("c360_api_request_duration_seconds_count")
        and 'route="/customers/{customer_key}"' in line
        for line in lines
    )
    assert "/customers/987654321" not in text  # routes by template, never the raw path


@pytest.fixture(scope="module")
def keyed_url(api_lakehouse: ApiLakehouse) -> Iterator[str]:
    settings = api_lakehouse.settings.model_copy(
        update={"api": api_lakehouse.settings.api.model_copy(update={"key": SecretStr("s3cret")})}
    )
    with serving(create_app(settings)) as url:
        yield url


@pytest.mark.parametrize(
    "path", ["/customers/1", "/customers/1/timeline", "/customers?phone=5551234567"]
)
def test_with_a_key_set_customer_endpoints_need_it(keyed_url: str, path: str) -> None:
    with httpx.Client(base_url=keyed_url) as http:
        assert http.get(path).status_code == 401
        assert http.get(path, headers={API_KEY_HEADER: "wrong"}).status_code == 401
        assert http.get(path, headers={API_KEY_HEADER: "s3cret"}).status_code in (200, 404)
        # Operations and the schema stay open; the schema says how to authenticate.
        assert http.get("/health").status_code == 200
        assert http.get("/metrics").status_code == 200
        schema = http.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == API_KEY_HEADER


def test_without_a_key_set_no_header_is_needed(client: httpx.Client) -> None:
    assert client.get("/customers/1").status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_without_a_serving_copy_every_endpoint_says_so(api_lakehouse: ApiLakehouse) -> None:
    missing = api_lakehouse.home / "nowhere" / "customers.sqlite"
    app = create_app(api_lakehouse.settings, ServingStore(missing))
    with serving(app) as url, httpx.Client(base_url=url) as http:
        for path in ("/customers/1", "/customers?email=a@b.c", "/health"):
            response = http.get(path)
            assert response.status_code == 503
            assert "no serving copy" in response.json()["detail"]
