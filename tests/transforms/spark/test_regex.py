"""Rust regular expressions (as Polars reads them) spelled for Java (as Spark reads them)."""

from __future__ import annotations

import pytest

from transforms.spark.regex import java_regex


@pytest.mark.parametrize(
    ("rust", "java"),
    [
        ("[^0-9]", "[^0-9]"),
        # Unicode-wide digit and space classes, as Rust's.
        (r"^\s*[+-]?\d+\s*$", r"(?U)^\s*[+-]?\d+\s*\z"),
        (r":(\d+)$", r"(?U):(\d+)\z"),
        # The vertical tab, not Java's any vertical white space.
        (r"[ \t\v\u00a0]+$", r"[ \t\x0B\u00a0]+\z"),
        # Any character but a line feed, as Rust's `.` (Java's also skips `\r`, U+2028...).
        (r"^(.*) [^ ]+$", r"^([^\n]*) [^ ]+\z"),
        (r"[.]\.", r"[.]\."),
        # A `$` inside a class or escaped is a dollar sign.
        (r"[$]\$", r"[$]\$"),
        (r"[]$]$", r"[]$]\z"),
        (r"[^]$]x", r"[^]$]x"),
    ],
)
def test_rust_syntax_becomes_java_syntax(rust: str, java: str) -> None:
    assert java_regex(rust) == java
