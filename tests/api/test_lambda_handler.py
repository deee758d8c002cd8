"""The Lambda handler: the same app invoked with API Gateway events (HTTP API v2 and REST
v1), finding its serving copy from settings, or downloading it from S3 on a cold start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api import lambda_handler
from api.serving_copy import publish_serving_copy, serving_path
from tests.api.conftest import ApiLakehouse
from tests.conftest import S3Server

pytestmark = pytest.mark.slow


def http_api_event(path: str, query: str = "") -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2.0) GET event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "*/*"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "test",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795780800000,
        },
        "isBase64Encoded": False,
    }


def rest_api_event(path: str, query: dict[str, str]) -> dict[str, Any]:
    """An API Gateway REST API (v1, proxy integration) GET event."""
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Accept": "*/*"}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": f"/prod{path}",
            "stage": "prod",
            "accountId": "123456789012",
            "apiId": "abc123",
            "protocol": "HTTP/1.1",
            "requestId": "req-2",
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def cold_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A fresh Lambda container: no app set up yet, settings only from its environment."""
    monkeypatch.setattr(lambda_handler, "_adapter", None)
    monkeypatch.chdir(tmp_path)  # no `.env` from the repository
    return monkeypatch


def test_http_api_event_gets_a_profile(
    api_lakehouse: ApiLakehouse, cold_start: pytest.MonkeyPatch
) -> None:
    cold_start.setenv("C360_HOME", str(api_lakehouse.home))
    copy = serving_path(api_lakehouse.settings)
    cold_start.setenv("C360_API__SERVING_PATH", str(copy))
    key = api_lakehouse.curated("customer_360")["customer_key"][0]

    response = lambda_handler.handler(http_api_event(f"/customers/{key}"), None)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"])["customer_key"] == key
    missing = lambda_handler.handler(http_api_event("/customers/987654321"), None)
    assert missing["statusCode"] == 404
    malformed = lambda_handler.handler(http_api_event("/customers", "phone=12"), None)
    assert malformed["statusCode"] == 422


def test_rest_api_event_looks_up_by_email(
    api_lakehouse: ApiLakehouse, cold_start: pytest.MonkeyPatch
) -> None:
    cold_start.setenv("C360_HOME", str(api_lakehouse.home))
    row = api_lakehouse.curated("customer_360").drop_nulls("email").row(0, named=True)

    response = lambda_handler.handler(
        rest_api_event("/customers", {"email": f" {row['email'].upper()} "}), None
    )

    assert response["statusCode"] == 200
    keys = [c["customer_key"] for c in json.loads(response["body"])["customers"]]
    assert row["customer_key"] in keys


@pytest.mark.integration
def test_cold_start_downloads_the_copy_that_publishing_uploaded(
    api_lakehouse: ApiLakehouse,
    s3_server: S3Server,
    cold_start: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    uri = f"{s3_server.unique_prefix()}/serving/customers.sqlite"
    s3 = s3_server.s3_settings()
    api = api_lakehouse.settings.api.model_copy(
        update={"serving_path": tmp_path / "published.sqlite", "serving_uri": uri}
    )
    catalog_settings = api_lakehouse.settings.catalog.model_copy(update={"s3": s3})
    publisher = api_lakehouse.settings.model_copy(update={"api": api, "catalog": catalog_settings})
    info = publish_serving_copy(publisher, api_lakehouse.catalog())

    local = tmp_path / "lambda-tmp" / "customers.sqlite"
    cold_start.setenv("C360_HOME", str(api_lakehouse.home))
    cold_start.setenv("C360_API__SERVING_PATH", str(local))
    cold_start.setenv("C360_API__SERVING_URI", uri)
    cold_start.setenv("C360_CATALOG__S3__ENDPOINT", s3_server.endpoint)
    cold_start.setenv("C360_CATALOG__S3__ACCESS_KEY_ID", s3_server.access_key_id)
    cold_start.setenv("C360_CATALOG__S3__SECRET_ACCESS_KEY", s3_server.secret_access_key)
    cold_start.setenv("C360_CATALOG__S3__REGION", s3_server.region)

    response = lambda_handler.handler(http_api_event("/health"), None)

    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["serving_version"] == info.version
    assert local.read_bytes() == info.path.read_bytes()
