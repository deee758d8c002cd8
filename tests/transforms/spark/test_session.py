"""A missing pyspark or Java is one clear line, not a stack trace from the JVM launcher."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Each runs in a fresh interpreter: exit 3 and the message when the engine is unavailable.
WITHOUT_PYSPARK = """
import sys
sys.modules["pyspark"] = None  # as if not installed
from transforms.engines import EngineUnavailableError, get_engine
try:
    get_engine("spark")
except EngineUnavailableError as exc:
    print(exc)
    sys.exit(3)
"""
START = """
import sys
from transforms.engines import EngineUnavailableError
from transforms.spark.session import spark
try:
    spark()
except EngineUnavailableError as exc:
    print(exc)
    sys.exit(3)
"""


def _run(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).parents[3],
    )


def test_without_pyspark_the_engine_says_which_extra_to_install() -> None:
    result = _run(WITHOUT_PYSPARK)

    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == [
        "the spark engine needs pyspark: install the `spark` extra (uv sync --extra spark)"
    ]


def test_without_java_the_engine_says_to_install_it(tmp_path: Path) -> None:
    # A JAVA_HOME whose `java` cannot start.
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\nexit 1\n")
    java.chmod(0o755)

    result = _run(START, env={"JAVA_HOME": str(tmp_path)})

    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == [
        "the spark engine could not start Java (JAVA_GATEWAY_EXITED): install a Java 17+ "
        "runtime and put it on PATH or set JAVA_HOME"
    ]
