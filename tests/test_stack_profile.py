"""The `stack` and `cloud` profiles: the compose file that defines the stack, and the whole
pipeline on each profile against the real servers this machine has.

No Docker engine runs here, so the compose file is validated offline and checked against
what the `stack` profile points at; the pipeline then runs on the `stack` profile with each
service swapped for a real one on 127.0.0.1 (MariaDB for MySQL, PostgreSQL, SeaweedFS for
MinIO, moto for LocalStack's Kinesis), and on the `cloud` profile against moto's S3, Glue
and Kinesis with the sources over the network. The same checks as the embedded run apply.
"""

from __future__ import annotations

import re
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from c360.settings import PROFILES, REPO_ROOT, ProfileName, Settings, settings_env
from tests.compose_config import COMPOSE_FILE, ENV_EXAMPLE, ComposeStack, compose, endpoint
from tests.conftest import LOCALHOST, S3Server
from tests.pipeline_checks import CHECKS_OF_A_RUN, Lakehouse, c360, ran
from tests.prefect_server import PrefectServer

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "c360-test",
    "AWS_SECRET_ACCESS_KEY": "c360-test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
POSTGRES_INIT = REPO_ROOT / "compose" / "postgres-init.sql"
LOCALSTACK_INIT = REPO_ROOT / "localstack" / "init" / "create-resources.sh"
# What keeps state across `just down` / `just up`: each in a named volume.
STATEFUL = ("minio", "postgres", "mysql", "worker")
STACK = PROFILES[ProfileName.STACK]


@pytest.fixture(scope="module")
def stack() -> ComposeStack:
    """docker-compose.yml as `.env.example` configures it."""
    return ComposeStack.resolve(ENV_EXAMPLE)


def test_the_compose_file_validates_offline_and_the_env_example_holds_its_defaults(
    tmp_path: Path, stack: ComposeStack
) -> None:
    no_env = tmp_path / "empty.env"
    no_env.write_text("")

    for env_file in (no_env, ENV_EXAMPLE):
        result = compose(env_file, "config", "-q")
        assert result.returncode == 0, result.stderr

    # Without a `.env` the stack is the example's: the defaults keep working.
    assert ComposeStack.resolve(no_env) == stack
    example = re.findall(r"^([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)
    compose_text = COMPOSE_FILE.read_text()
    assert example
    assert [name for name in example if f"${{{name}:-" not in compose_text] == []


def test_every_service_the_stack_profile_points_at_is_published_by_the_compose_file(
    stack: ComposeStack,
) -> None:
    catalog, sources = STACK.catalog, STACK.sources
    points_at: dict[Any, str] = {
        catalog.uri: "postgres",
        catalog.s3.endpoint: "minio",
        sources.crm_url: "mysql",
        sources.orders_url: "postgres",
        sources.stream_endpoint: "localstack",
    }
    assert None not in points_at

    assert {url: stack.publishing(*endpoint(url)) for url in points_at} == points_at
    assert {endpoint(url)[0] for url in points_at} == {LOCALHOST}
    # ... with the service's own credentials, into databases and buckets it creates.
    postgres, mysql = stack.environment("postgres"), stack.environment("mysql")
    databases = re.findall(r"CREATE DATABASE (\w+);", POSTGRES_INIT.read_text())
    for url in (catalog.uri, sources.orders_url):
        parsed = urlparse(url)
        assert (parsed.username, parsed.password) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
        )
        assert parsed.path.lstrip("/") in databases
    crm = urlparse(sources.crm_url)
    assert (crm.username, crm.password, crm.path.lstrip("/")) == (
        "root",
        mysql["MYSQL_ROOT_PASSWORD"],
        mysql["MYSQL_DATABASE"],
    )
    minio = stack.environment("minio")
    assert (catalog.s3.access_key_id, catalog.s3.secret_access_key) == (
        minio["MINIO_ROOT_USER"],
        minio["MINIO_ROOT_PASSWORD"],
    )
    make_buckets = " ".join(stack.services["minio-buckets"]["entrypoint"])
    for location in (catalog.warehouse, sources.landing):
        bucket = urlparse(location).netloc
        assert "mc mb --ignore-existing " in make_buckets
        assert f"local/{bucket}" in make_buckets, bucket
        assert f"mc encrypt set sse-s3 local/{bucket}" in make_buckets, bucket
    init = LOCALSTACK_INIT.read_text()
    assert f"create-stream --stream-name {sources.stream_name} " in init
    assert f"--shard-count {sources.stream_shards}" in init


def test_every_long_running_service_is_pinned_health_checked_and_local(
    stack: ComposeStack,
) -> None:
    assert stack.one_shots() == {"minio-buckets"}
    assert stack.services["minio-buckets"]["restart"] == "no"
    for name, service in stack.services.items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository, name
        assert tag not in ("", "latest"), name
        if "build" in service:
            assert (Path(service["build"]["context"]) / "Dockerfile").is_file(), name
        assert {p["host_ip"] for p in service.get("ports", [])} <= {LOCALHOST}, name
        if name not in stack.one_shots():
            assert service.get("healthcheck", {}).get("test"), name
    for name in STATEFUL:
        named = [
            v["source"] for v in stack.services[name].get("volumes", []) if v["type"] == "volume"
        ]
        assert named, name
        assert set(named) <= stack.volumes, name


def test_the_worker_serves_the_deployments_on_the_stack_reaching_each_service_by_name(
    stack: ComposeStack, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = stack.services["worker"]
    for name, value in stack.environment("worker").items():
        if name.startswith("C360_"):
            monkeypatch.setenv(name, value)

    settings = make_settings()

    assert worker["command"] == ["c360", "deploy"]
    assert settings.profile == ProfileName.STACK
    catalog, sources = settings.resolved_catalog(), settings.resolved_sources()
    reaches: dict[Any, str] = {
        settings.prefect_api_url: "prefect",
        catalog.uri: "postgres",
        catalog.s3.endpoint: "minio",
        sources.crm_url: "mysql",
        sources.orders_url: "postgres",
        sources.stream_endpoint: "localstack",
    }
    assert None not in reaches
    assert {url: endpoint(url)[0] for url in reaches} == reaches
    for url, service in reaches.items():
        assert stack.listens_on(service, endpoint(url)[1]), url
        assert service in worker["depends_on"], service
    # Only the addresses differ from the host's: the same warehouse, landing zone, stream.
    assert (catalog.type, catalog.warehouse) == (STACK.catalog.type, STACK.catalog.warehouse)
    assert (sources.landing, sources.stream, sources.stream_name) == (
        STACK.sources.landing,
        STACK.sources.stream,
        STACK.sources.stream_name,
    )


def run_pipeline(settings: Settings, prefect_server: PrefectServer) -> Lakehouse:
    """`c360 run --scale tiny` with exactly `settings` (as `C360_*` variables), reported to
    the session's Prefect server; the lakehouse it left."""
    env = {
        **settings_env(settings),
        **AWS_ENV,
        "C360_PREFECT_API_URL": prefect_server.api_url,
    }
    result = c360(settings.home, "run", "--scale", "tiny", env=env)
    ran(result)
    assert f"profile {settings.profile.value}" in result.stdout
    return Lakehouse(settings.home, settings, result.stdout, env)


@pytest.mark.slow
@pytest.mark.integration
def test_the_pipeline_runs_on_the_stack_profile_against_real_servers(
    make_settings: Callable[..., Settings],
    s3_server: S3Server,
    postgres_url: str,
    mysql_url: str,
    kinesis_endpoint: str,
    prefect_server: PrefectServer,
) -> None:
    key = uuid.uuid4().hex[:12]
    prefix = f"s3://{s3_server.bucket}/{key}"
    # The profile's own settings, but for where each server listens here (SeaweedFS stands
    # in for MinIO, MariaDB for MySQL, moto for LocalStack). The catalog and the orders
    # share one scratch database: their tables never share a name.
    settings = make_settings(
        profile="stack",
        scale="tiny",
        catalog={
            "uri": postgres_url,
            "warehouse": f"{prefix}/warehouse",
            "s3": s3_server.s3_settings().model_dump(),
        },
        sources={
            "crm_url": mysql_url,
            "orders_url": postgres_url,
            "landing": f"{prefix}/drops",
            "stream_endpoint": kinesis_endpoint,
            "stream_name": f"c360-{key}",
        },
    )
    assert settings.resolved_catalog().type == STACK.catalog.type == "sql"
    assert settings.resolved_sources().stream == STACK.sources.stream == "kinesis"

    lakehouse = run_pipeline(settings, prefect_server)

    for check in CHECKS_OF_A_RUN:
        check(lakehouse)
    # Tables and drops are on the S3 server.
    table = lakehouse.catalog().load_table("curated.customers")
    assert table.location().startswith(f"{prefix}/warehouse/")
    drops = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{key}/drops/")
    assert drops["KeyCount"] > 0


def moto_client(service: str, endpoint_url: str) -> Any:  # boto3-stubs covers S3 only
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def reset_moto(endpoint_url: str) -> None:
    """Start from a blank moto: Glue databases are the zones, named the same in every test."""
    reset = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()


@pytest.mark.slow
@pytest.mark.integration
def test_the_pipeline_runs_on_the_cloud_profile_against_moto(
    make_settings: Callable[..., Settings],
    moto_server: str,
    postgres_url: str,
    mysql_url: str,
    prefect_server: PrefectServer,
) -> None:
    reset_moto(moto_server)
    cloud = PROFILES[ProfileName.CLOUD]
    # The profile's own buckets, Glue catalog and stream; only the endpoints, the keys (in
    # AWS: the role's) and the databases (over the network) are set.
    settings = make_settings(
        profile="cloud",
        scale="tiny",
        catalog={
            "uri": moto_server,
            "s3": {
                "endpoint": moto_server,
                "access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
                "secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            },
        },
        sources={"crm_url": mysql_url, "orders_url": postgres_url, "stream_endpoint": moto_server},
    )
    assert (cloud.catalog.warehouse, cloud.sources.landing) == (
        "s3://customer360-lakehouse/warehouse",
        "s3://customer360-landing/drops",
    )
    for bucket in ("customer360-lakehouse", "customer360-landing"):
        moto_client("s3", moto_server).create_bucket(Bucket=bucket)

    lakehouse = run_pipeline(settings, prefect_server)

    for check in CHECKS_OF_A_RUN:
        check(lakehouse)
    # The tables are in Glue, the data in the profile's bucket, the events came by Kinesis.
    glue = moto_client("glue", moto_server)
    curated = {t["Name"]: t for t in glue.get_tables(DatabaseName="curated")["TableList"]}
    location = curated["customers"]["StorageDescriptor"]["Location"]
    assert location.startswith("s3://customer360-lakehouse/warehouse/")
    streams = moto_client("kinesis", moto_server).list_streams()["StreamNames"]
    assert streams == [cloud.sources.stream_name]
