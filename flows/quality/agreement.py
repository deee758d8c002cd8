"""Agreement between a staged row and its source's: values compared as canonical text."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

NULL_TEXT = "\\N"


def canonical(value: object) -> str:
    """A value as text both sides agree on: timestamps as UTC ISO with microseconds (naive
    ones taken as UTC), decimals exactly (`12.50` as `12.5`), null as `\\N`."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def row_digest(row: Mapping[str, object], columns: Sequence[str]) -> str:
    """The sha256 of a row's `columns` as canonical text."""
    text = "\x1f".join(canonical(row.get(c)) for c in columns)
    return hashlib.sha256(text.encode()).hexdigest()
