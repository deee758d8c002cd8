"""The Spark engine's one local SparkSession, started on first use and stopped at exit."""

from __future__ import annotations

import atexit
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from transforms.engines import EngineUnavailableError

try:
    from pyspark import SparkContext
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession
except ImportError:
    raise EngineUnavailableError(
        "the spark engine needs pyspark: install the `spark` extra (uv sync --extra spark)"
    ) from None

MASTER = "local[2]"
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
JAVA_OPTIONS = f'"-Dlog4j2.configurationFile=file:{LOG_CONFIG}"'
CONFIG = {
    "spark.app.name": "c360-staging",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Staging frames are small next to what Spark's default of 200 partitions is sized for.
    "spark.sql.shuffle.partitions": "4",
    # Columns match by exact name, as pyiceberg and Polars match them; Parquet columns by
    # Iceberg field id where the read schema has them (see `engine.load`).
    "spark.sql.caseSensitive": "true",
    "spark.sql.parquet.fieldId.read.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.extraJavaOptions": JAVA_OPTIONS,
    # The driver is the whole local cluster, and collects each result as Arrow: Spark's 1 GB
    # runs out on a million rows.
    "spark.driver.memory": "4g",
}
STOP_TIMEOUT_S = 30

_lock = threading.Lock()
_session: SparkSession | None = None


def spark() -> SparkSession:
    """The local SparkSession, started with `CONFIG` on the first call (a cold start takes
    ~20 s).

    Raises:
        EngineUnavailableError: Java could not be started.
    """
    with _lock:
        return _session or _start({})


def start(config: Mapping[str, str]) -> SparkSession:
    """Start the local SparkSession with `config` over `CONFIG` (e.g. JVM options for a
    test run of many small jobs).

    Raises:
        RuntimeError: the session is already running.
        EngineUnavailableError: Java could not be started.
    """
    with _lock:
        if _session is not None:
            raise RuntimeError("the Spark session is already running: stop() it first")
        return _start(config)


def _start(config: Mapping[str, str]) -> SparkSession:
    global _session
    builder = SparkSession.builder.master(MASTER)
    for key, value in {**CONFIG, **config}.items():
        builder = builder.config(key, value)
    try:
        _session = builder.getOrCreate()
    except PySparkRuntimeError as exc:
        raise EngineUnavailableError(
            f"the spark engine could not start Java ({exc.getCondition()}): "
            "install a Java 17+ runtime and put it on PATH or set JAVA_HOME"
        ) from None
    atexit.register(stop)
    return _session


def stop() -> None:
    """Stop the session and end its JVM (`SparkSession.stop` alone leaves the JVM running)."""
    global _session
    with _lock:
        if _session is None:
            return
        atexit.unregister(stop)
        _session.stop()
        _session = None
        gateway = SparkContext._gateway
        if gateway is None:
            return
        gateway.shutdown()
        SparkContext._gateway = None
        SparkContext._jvm = None
        process = getattr(gateway, "proc", None)
        if process is not None:
            # The JVM exits when its stdin closes (pyspark's contract with spark-submit).
            process.stdin.close()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
