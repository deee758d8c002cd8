"""Lookup input, normalised as staging normalises the stored identifiers
(`transforms/polars/normalise.py`), so `" Ann@Example.COM"` finds `ann@example.com`.

Staging's rules are Polars expressions; running one on a single value (a one-row frame) cost
~0.3 ms of a ~0.5 ms email lookup. Here they are the same rules on one Python string (~0.3
us for an email, ~2 us for a phone), built from the Polars module's white-space class, and
`tests/api/test_lookup.py` checks them against the Polars rules on generated and
simulator-like strings. Where Python could read a value differently, the Polars rule decides:

- Trimming and keeping digits read code points only (the `SPACE` class, `[0-9]`), which
  `str.strip` and a regex over code points read exactly as Rust's regex does: any input.
- Lower-casing is Unicode's in both, but of different releases: Python 3.11 has Unicode
  14, Polars 2.1's Rust Unicode 16, and 55 code points lower-case in Polars only. So only an
  ASCII email (as every simulated one, and nearly every real one) is lower-cased here; any
  other goes through the Polars rule itself (~0.15 ms with one Polars thread, as
  `c360 serve` and the Lambda handler run it; the most recent results are kept, so a
  repeated lookup pays it once).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import lru_cache

import polars as pl

from transforms.polars import normalise

CACHED_VALUES = 65_536
# The characters of staging's white-space class, `[ \t...\u00a0]` in the regex's escapes.
WHITE_SPACE = codecs.decode(normalise.SPACE.removeprefix("[").removesuffix("]"), "unicode_escape")
# `phone_e164`'s default country, the one staging normalises with.
COUNTRY_CODE = "1"
NOT_DIGIT = re.compile("[^0-9]")


def email(value: str) -> str | None:
    """Trimmed, lower-case email; None when blank."""
    cleaned = value.strip(WHITE_SPACE)
    if not cleaned.isascii():
        return _by_polars(normalise.email, value)
    return cleaned.lower() or None


def phone(value: str) -> str | None:
    """E.164 phone from any punctuation style; None when it is not a phone number."""
    digits = NOT_DIGIT.sub("", value)
    if len(digits) == 10:
        return f"+{COUNTRY_CODE}{digits}"
    if len(digits) == 11 and digits.startswith(COUNTRY_CODE):
        return f"+{digits}"
    return None


def record_id(value: str) -> str | None:
    """A source record id without surrounding white space; None when blank."""
    return value.strip(WHITE_SPACE) or None


@lru_cache(maxsize=CACHED_VALUES)
def _by_polars(rule: Callable[[str], pl.Expr], value: str) -> str | None:
    result = pl.Series("value", [value], dtype=pl.String).to_frame().select(rule("value")).item()
    return None if result is None else str(result)
