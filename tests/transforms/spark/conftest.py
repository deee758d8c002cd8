"""The Spark engine's session, shared by every Spark test: a cold start takes ~20 s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from transforms.engines import EngineUnavailableError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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
