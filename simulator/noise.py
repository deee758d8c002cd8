"""Realistic noise every source system adds: typos, phone and date styles, stray case.

Functions take numpy generators and plain lists, so each source draws its own noise from
its own reproducible stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

PHONE_STYLES = ("{a}-{b}-{c}", "({a}) {b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}", "1{a}{b}{c}")
DATE_STYLES = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%b %d %Y")


def typo(values: Sequence[str | None], rng: np.random.Generator, rate: float) -> list[str | None]:
    """Each value, with probability `rate`, gets one typo: a swapped, dropped or doubled
    letter (never in the first character, so initials survive)."""
    hit = rng.random(len(values)) < rate
    kind = rng.integers(0, 3, len(values))
    where = rng.random(len(values))
    out: list[str | None] = []
    for value, h, k, w in zip(values, hit.tolist(), kind.tolist(), where.tolist(), strict=True):
        if not h or value is None or len(value) < 3:
            out.append(value)
            continue
        i = 1 + int(w * (len(value) - 2))
        if k == 0:
            out.append(value[:i] + value[i + 1] + value[i] + value[i + 2 :])
        elif k == 1:
            out.append(value[:i] + value[i + 1 :])
        else:
            out.append(value[:i] + value[i] + value[i:])
    return out


def phone_styles(
    e164: Sequence[str | None], rng: np.random.Generator, styles: Sequence[str] = PHONE_STYLES
) -> list[str | None]:
    """US E.164 phones (`+15551234567`) written in one of `styles` each."""
    pick = rng.integers(0, len(styles), len(e164)).tolist()
    out: list[str | None] = []
    for phone, s in zip(e164, pick, strict=True):
        if phone is None:
            out.append(None)
            continue
        d = phone[2:]
        out.append(styles[s].format(a=d[:3], b=d[3:6], c=d[6:]))
    return out


def date_styles(
    dates: Sequence[date | None], rng: np.random.Generator, styles: Sequence[str] = DATE_STYLES
) -> list[str | None]:
    """Dates written in one of `styles` each."""
    pick = rng.integers(0, len(styles), len(dates)).tolist()
    return [None if d is None else d.strftime(styles[s]) for d, s in zip(dates, pick, strict=True)]


def stray_case(
    values: Sequence[str | None], rng: np.random.Generator, rate: float
) -> list[str | None]:
    """Each value, with probability `rate`, upper-cased and padded with a space, as typed."""
    hit = rng.random(len(values)) < rate
    return [
        f" {v.upper()}" if h and v is not None else v
        for v, h in zip(values, hit.tolist(), strict=True)
    ]
