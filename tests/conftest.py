"""Shared fixtures: settings and catalogs under a temporary home, and the real services
(an S3 server, the machine's PostgreSQL and MariaDB, a Kinesis endpoint on moto) that
integration tests talk to."""

from __future__ import annotations

import os
import socket
import subprocess
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import psycopg2
import pymysql
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pyiceberg.catalog import Catalog

from c360.settings import S3Settings, Settings, load_settings
from catalog.factory import open_catalog
from tests.prefect_server import PrefectServer, running_prefect_server
from transforms.engines import EngineUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyspark.sql import SparkSession

# The checks every pipeline run passes live outside the test modules: let pytest explain them.
pytest.register_assert_rewrite("tests.pipeline_checks")

LOCALHOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USERS = ("postgres", "root")
MYSQL_PORT = 3306
MYSQL_USER = "root"
S3_BUCKET = "c360-test"
S3_ACCESS_KEY_ID = "c360-test-key"
S3_SECRET_ACCESS_KEY = "c360-test-secret"
S3_REGION = "us-east-1"
S3_START_TIMEOUT_S = 60


@pytest.fixture(autouse=True)
def _no_c360_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no `C360_*` variables from the shell that runs them."""
    for name in list(os.environ):
        if name.startswith("C360_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Build settings under the test's home, with `load_settings` overrides on top."""

    def make(**overrides: object) -> Settings:
        with monkeypatch.context() as m:
            m.chdir(tmp_path)  # so a developer's `.env` in the repo is not read
            return load_settings(home=tmp_path, **overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Local-profile settings (SQLite catalog, file warehouse) under a fresh home."""
    return make_settings()


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    """The lakehouse catalog for `settings`: an empty SQLite catalog."""
    return open_catalog(settings)


# --- S3 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible server and the bucket the tests may write to."""

    endpoint: str
    bucket: str
    access_key_id: str = S3_ACCESS_KEY_ID
    secret_access_key: str = S3_SECRET_ACCESS_KEY
    region: str = S3_REGION

    def s3_settings(self) -> S3Settings:
        return S3Settings(
            endpoint=self.endpoint,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            region=self.region,
        )

    def client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        )

    def unique_prefix(self) -> str:
        """An `s3://` location no other test writes to."""
        return f"s3://{self.bucket}/{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def _skip_unless_listening(server: str, port: int) -> None:
    """Skip the test unless something accepts connections on 127.0.0.1:`port`."""
    try:
        socket.create_connection((LOCALHOST, port), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no {server} server reachable at {LOCALHOST}:{port} ({exc})")


def _weed_binary() -> Path:
    weed = Path(sysconfig.get_path("scripts")) / "weed"
    if not weed.exists():
        pytest.fail(f"no `weed` binary at {weed}: install the dev group (`uv sync`)")
    return weed


@dataclass(frozen=True)
class WeedMini:
    """A running SeaweedFS `weed mini`: its ports by listener name, its log, its process."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    log: Path

    def url(self, listener: str) -> str:
        """The `http://` address of one listener, e.g. `s3.port`."""
        return f"http://{LOCALHOST}:{self.ports[listener]}"

    def wait_until_ready(self, probe: Callable[[], object], what: str) -> None:
        """Call `probe` until it stops raising; fail if `weed` exits or the time runs out."""
        deadline = time.monotonic() + S3_START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                pytest.fail(f"weed mini exited with {self.process.returncode}:\n{tail}")
            try:
                probe()
                return
            except (BotoCoreError, ClientError, OSError) as exc:
                error: Exception = exc
            if time.monotonic() > deadline:
                pytest.fail(f"{what} not ready in {S3_START_TIMEOUT_S} s: {error}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop this server (its own process, by PID), killing it if it will not go."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_weed_mini(data_dir: Path, *, iceberg_catalog: bool = False) -> WeedMini:
    """Start `weed mini` in `data_dir` on free 127.0.0.1 ports, with the test credentials.

    Args:
        data_dir: where the server keeps its data and `weed.log`.
        iceberg_catalog: also serve the Iceberg REST catalog (listener `s3.port.iceberg`).
    """
    # Every listener gets an explicit free port: the defaults (and default gRPC = http+10000)
    # may be taken on a shared machine. Services the tests do not use are switched off.
    listeners = [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        *(["s3.port.iceberg"] if iceberg_catalog else []),
        "admin.port",
        "admin.port.grpc",
    ]
    ports = {name: _free_port() for name in listeners}
    command = [
        str(_weed_binary()),
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOCALHOST}",
        f"-ip.bind={LOCALHOST}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        *([] if iceberg_catalog else ["-s3.port.iceberg=0"]),
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
    }
    log_path = data_dir / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT
        )
    return WeedMini(process, ports, log_path)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server (`weed mini`) on free 127.0.0.1 ports, for the session."""
    weed = start_weed_mini(tmp_path_factory.mktemp("seaweedfs"))
    server = S3Server(endpoint=weed.url("s3.port"), bucket=S3_BUCKET)
    client = server.client()

    def create_bucket() -> None:
        try:
            client.create_bucket(Bucket=server.bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise

    try:
        # Buckets are served by the filer, which comes up last: retry until it answers.
        weed.wait_until_ready(create_bucket, f"S3 server at {server.endpoint}")
        yield server
    finally:
        weed.stop()


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _postgres_user() -> str:
    """The role that can connect to the machine's PostgreSQL; skips if none is listening."""
    _skip_unless_listening("PostgreSQL", POSTGRES_PORT)
    errors = []
    for user in POSTGRES_USERS:
        try:
            psycopg2.connect(
                host=LOCALHOST, port=POSTGRES_PORT, user=user, dbname="test", connect_timeout=5
            ).close()
            return user
        except psycopg2.OperationalError as exc:
            errors.append(f"{user}: {' '.join(str(exc).split())}")
    pytest.fail(f"PostgreSQL at {LOCALHOST}:{POSTGRES_PORT} refused every role: {errors}")


@pytest.fixture
def postgres_url(_postgres_user: str) -> Iterator[str]:
    """A SQLAlchemy URL to a fresh, empty PostgreSQL database, dropped after the test."""
    admin = psycopg2.connect(
        host=LOCALHOST, port=POSTGRES_PORT, user=_postgres_user, dbname="test", connect_timeout=5
    )
    admin.autocommit = True
    # FORCE: the catalog's connection pool may still hold connections.
    with _scratch_database(admin, quote='"', drop_options=" WITH (FORCE)") as name:
        yield f"postgresql+psycopg2://{_postgres_user}@{LOCALHOST}:{POSTGRES_PORT}/{name}"


@contextmanager
def _scratch_database(
    admin: psycopg2.extensions.connection | pymysql.connections.Connection,  # type: ignore[type-arg]
    quote: str,
    drop_options: str = "",
) -> Iterator[str]:
    """Create a uniquely named database through `admin` and yield its name; after the block,
    drop it and close `admin`."""
    name = f"c360_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {quote}{name}{quote}")
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{drop_options}")
        admin.close()


# --- MySQL/MariaDB ----------------------------------------------------------------------------


def _mysql_admin() -> pymysql.connections.Connection:  # type: ignore[type-arg]
    return pymysql.connect(
        host=LOCALHOST, port=MYSQL_PORT, user=MYSQL_USER, password="", connect_timeout=5
    )


@pytest.fixture(scope="session")
def _mysql_server() -> None:
    """Skips unless a MySQL/MariaDB server listens on 127.0.0.1:3306; fails if it refuses root."""
    _skip_unless_listening("MySQL/MariaDB", MYSQL_PORT)
    try:
        _mysql_admin().close()
    except pymysql.MySQLError as exc:
        pytest.fail(f"MySQL/MariaDB at {LOCALHOST}:{MYSQL_PORT} refused {MYSQL_USER}: {exc}")


@pytest.fixture
def mysql_url(_mysql_server: None) -> Iterator[str]:
    """A SQLAlchemy URL to a fresh, empty MySQL/MariaDB database, dropped after the test."""
    with _scratch_database(_mysql_admin(), quote="`") as name:
        yield f"mysql+pymysql://{MYSQL_USER}@{LOCALHOST}:{MYSQL_PORT}/{name}"


# --- moto (Kinesis, Glue, S3) -------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's AWS emulator (Kinesis, Glue, S3) in a thread on a free 127.0.0.1 port; its endpoint.

    One server for the session: tests name what they create uniquely, or reset moto first.
    """
    # Imported here: importing moto hooks a stubber into every botocore client made after.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOCALHOST, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kinesis_endpoint(moto_server: str) -> str:
    """The Kinesis endpoint: moto's."""
    return moto_server


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placeholder AWS credentials and region, so boto3 never looks further (or at AWS)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "c360-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "c360-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


# --- Prefect --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect server and its UI (`c360 ui`, on SQLite) on a free 127.0.0.1 port, for the
    session; point a run at it with `C360_PREFECT_API_URL=prefect_server.api_url`."""
    # The scheduler looks for deployments' next runs every 5 s instead of 60 s, so a test
    # sees a new deployment's scheduled runs within seconds.
    scheduler = {"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"}
    home = tmp_path_factory.mktemp("prefect-server")
    with running_prefect_server(home, scheduler) as server:
        yield server


# --- Spark ----------------------------------------------------------------------------

# Many small jobs: the JVM's quick compiler alone halves the suite's time (it changes no
# result); the serial collector suits a short-lived small heap.
TEST_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The engine's local session, started once; stopped with its JVM after the last test.

    Skips when pyspark (the `spark` extra) or Java is missing.
    """
    try:
        from transforms.spark import session

        started = session.start(
            {"spark.driver.extraJavaOptions": f"{session.JAVA_OPTIONS} {TEST_JAVA_OPTIONS}"}
        )
    except EngineUnavailableError as exc:
        pytest.skip(str(exc))
    yield started
    session.stop()
