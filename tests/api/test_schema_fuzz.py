"""Schema-driven fuzzing: schemathesis generates requests from the served OpenAPI schema,
valid and malformed; no request makes the server fail, and every response conforms to the
schema (status codes, content types, bodies)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

pytestmark = pytest.mark.slow

OPERATIONS = (
    "/customers/{customer_key}",
    "/customers/{customer_key}/history",
    "/customers/{customer_key}/timeline",
    "/customers",
)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        *((path, mode) for path in OPERATIONS for mode in GenerationMode),
        # No parameters: nothing to get wrong.
        ("/health", GenerationMode.POSITIVE),
    ],
)
def test_no_request_fails_the_server_or_breaks_the_schema(
    api_schema: schemathesis.BaseSchema, api_url: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path]["GET"]

    @given(data=st.data())
    @settings(max_examples=30, deadline=2000, suppress_health_check=list(HealthCheck))
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        case.call_and_validate(base_url=api_url, checks=CHECKS)

    fuzz()
