"""The catalog factory on its server backends: an Iceberg REST catalog (SeaweedFS) and AWS
Glue (moto), each with an S3 warehouse."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from c360.settings import CatalogSettings, S3Settings, Settings
from catalog.factory import catalog_properties, open_catalog
from catalog.tables import raw
from catalog.writer import write
from tests.catalog.backend_checks import (
    check_an_outside_reader_reads_back,
    check_ensure_all_creates_the_zones_and_each_table_once,
)
from tests.catalog.sample_data import crm_customer_rows


@pytest.fixture(
    params=[
        pytest.param("rest", marks=pytest.mark.integration),
        pytest.param("glue", marks=pytest.mark.integration),
    ]
)
def remote_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    """Settings for one server-backed catalog, each starting empty."""
    catalog: CatalogSettings = request.getfixturevalue(f"{request.param}_catalog_settings")
    return make_settings(catalog=catalog)


def test_ensure_all_creates_the_zones_and_each_table_once(remote_settings: Settings) -> None:
    check_ensure_all_creates_the_zones_and_each_table_once(remote_settings)


def test_writes_rows_that_an_outside_reader_reads_back(remote_settings: Settings) -> None:
    rows = crm_customer_rows([f"c{i:02}" for i in range(20)], batch_id="b1")

    table = check_an_outside_reader_reads_back(remote_settings, rows)

    warehouse = remote_settings.resolved_catalog().warehouse
    assert warehouse is not None
    assert table.location().startswith(f"{warehouse}/")


def test_recommitting_a_batch_is_skipped(remote_settings: Settings) -> None:
    catalog = open_catalog(remote_settings)
    first_rows = crm_customer_rows(["c1", "c2"], batch_id="b1")
    second_rows = crm_customer_rows(["c3"], batch_id="b2")

    first = write(catalog, raw.CRM_CUSTOMERS, first_rows, batch_id="b1", run_id="r1")
    again = write(
        open_catalog(remote_settings), raw.CRM_CUSTOMERS, first_rows, batch_id="b1", run_id="r2"
    )
    second = write(catalog, raw.CRM_CUSTOMERS, second_rows, batch_id="b2", run_id="r2")

    assert (again.skipped, again.rows, again.snapshot_id) == (True, 0, first.snapshot_id)
    assert not second.skipped
    table = open_catalog(remote_settings).load_table("raw.crm_customers")
    assert [s.snapshot_id for s in table.snapshots()] == [first.snapshot_id, second.snapshot_id]
    read = table.scan().to_arrow().sort_by("customer_id")
    assert read["customer_id"].to_pylist() == ["c1", "c2", "c3"]


def test_rest_properties_sign_requests_with_the_s3_credentials() -> None:
    catalog = CatalogSettings(
        type="rest",
        uri="http://127.0.0.1:8181",
        warehouse="s3://lakehouse",
        sigv4_service="s3tables",
        s3=S3Settings(
            endpoint="http://127.0.0.1:8333", access_key_id="k", secret_access_key="s", region="r"
        ),
    )

    assert catalog_properties(catalog) == {
        "type": "rest",
        "uri": "http://127.0.0.1:8181",
        "warehouse": "s3://lakehouse",
        "s3.endpoint": "http://127.0.0.1:8333",
        "s3.access-key-id": "k",
        "s3.secret-access-key": "s",
        "s3.region": "r",
        "rest.sigv4-enabled": "true",
        "rest.signing-name": "s3tables",
        "client.access-key-id": "k",
        "client.secret-access-key": "s",
        "client.region": "r",
    }
    # Without a service to sign for, a REST catalog's requests go out unsigned.
    unsigned = catalog_properties(catalog.model_copy(update={"sigv4_service": None}))
    assert not any(key.startswith(("rest.", "client.")) for key in unsigned)


def test_glue_properties_take_the_endpoint_from_the_uri() -> None:
    catalog = CatalogSettings(
        type="glue",
        uri="http://127.0.0.1:5000",
        warehouse="s3://lakehouse/warehouse",
        s3=S3Settings(access_key_id="k", secret_access_key="s", region="r"),
    )

    assert catalog_properties(catalog) == {
        "type": "glue",
        "glue.endpoint": "http://127.0.0.1:5000",
        "warehouse": "s3://lakehouse/warehouse",
        "s3.access-key-id": "k",
        "s3.secret-access-key": "s",
        "s3.region": "r",
        "glue.access-key-id": "k",
        "glue.secret-access-key": "s",
        "glue.region": "r",
    }
