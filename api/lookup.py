"""Lookup input, normalised by the very rules staging applies to the stored identifiers
(`transforms/polars/normalise.py`), so `" Ann@Example.COM"` finds `ann@example.com`.

Running a Polars rule on one value costs ~0.15 ms with one Polars thread (the servers,
`c360 serve` and the Lambda handler, set `POLARS_MAX_THREADS=1`), ~0.8 ms with a pool on
2 cores; the most recent results are kept, so a repeated lookup pays it once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import polars as pl

from transforms.polars import normalise

CACHED_VALUES = 65_536


def _apply(rule: Callable[[str], pl.Expr], value: str) -> str | None:
    result = pl.Series("value", [value], dtype=pl.String).to_frame().select(rule("value")).item()
    return None if result is None else str(result)


@lru_cache(maxsize=CACHED_VALUES)
def email(value: str) -> str | None:
    """Trimmed, lower-case email; None when blank."""
    return _apply(normalise.email, value)


@lru_cache(maxsize=CACHED_VALUES)
def phone(value: str) -> str | None:
    """E.164 phone from any punctuation style; None when it is not a phone number."""
    return _apply(normalise.phone_e164, value)


@lru_cache(maxsize=CACHED_VALUES)
def record_id(value: str) -> str | None:
    """A source record id without surrounding white space; None when blank."""
    result = _apply(lambda column: normalise.trimmed(column).alias(column), value)
    return result or None
