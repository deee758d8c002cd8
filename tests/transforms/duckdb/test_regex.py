"""Rust regular expressions (as Polars reads them) spelled for RE2 (as DuckDB reads them)."""

from __future__ import annotations

import polars as pl
import pytest

from catalog.contracts.rules import PATTERNS
from tests.transforms.duckdb.twins import relation
from transforms.duckdb.regex import WHITE_SPACE, re2_regex
from transforms.polars import normalise

SAMPLES = [
    "",
    " ",
    "12",
    " 12 ",
    "\u00a012\u00a0",
    "\u300012",
    "12\n",
    "\v12\f",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11\uff12",  # full-width digits
    "+1.5e3",
    ".5",
    "2026-01-01",
    "2026-01-01T10:00:00Z",
    "2026-01-01 10:00:00.5+0530",
    "11/20/2024",
    "15.09.2005",
    "Nov. 20, 2024",
    "20 Sept 2024",
    "1,234",
    "true",
    "shard-0:00123",
    "shard-0:",
    "$",
    "]",
]
RUST_PATTERNS = sorted(
    {
        *PATTERNS.values(),
        normalise.SPACE,
        f"^{normalise.SPACE}+|{normalise.SPACE}+$",
        "[^0-9]",
        ":(\\d+)$",
        "\\S+",
        "[\\s,]+",
        "[\\d.]+",
        "\\D",
        normalise.TIMESTAMP,
        normalise.WHOLE_NUMBER,
        *(p for p, *_ in normalise.NUMERIC_DATES + normalise.NAMED_DATES),
        "[]$]",
        "[$]$",
    }
)


@pytest.mark.parametrize(
    ("rust", "re2"),
    [
        ("[^0-9]", "[^0-9]"),
        ("^\\s*[+-]?\\d+\\s*$", f"^[{WHITE_SPACE}]*[+-]?\\p{{Nd}}+[{WHITE_SPACE}]*$"),
        ("[\\s,]", f"[{WHITE_SPACE},]"),
        ("\\S\\D", f"[^{WHITE_SPACE}]\\P{{Nd}}"),
        ("[ \\t\\v\\u00a0]+$", "[ \\t\\v\\x{00a0}]+$"),
        ("\\U0001F600|\\u{a0}", "\\x{0001F600}|\\x{a0}"),
        # Escaped backslashes and a `]` opening a class are themselves.
        ("\\\\d[]d]", "\\\\d[]d]"),
    ],
)
def test_rust_syntax_becomes_re2_syntax(rust: str, re2: str) -> None:
    assert re2_regex(rust) == re2


@pytest.mark.parametrize("rust", ["\\w+", "\\bword\\b", "[\\S]"])
def test_constructs_re2_reads_differently_are_refused(rust: str) -> None:
    with pytest.raises(ValueError, match="RE2 cannot read"):
        re2_regex(rust)


@pytest.mark.parametrize("rust", RUST_PATTERNS)
def test_patterns_match_what_they_match_in_polars(rust: str) -> None:
    frame = pl.DataFrame({"v": SAMPLES})
    expected = frame.select(pl.col("v").str.contains(rust))["v"].to_list()

    matched = relation(frame).project(f"regexp_matches(v, '{re2_regex(rust)}')").fetchall()

    assert [m for (m,) in matched] == expected
