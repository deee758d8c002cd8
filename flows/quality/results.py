"""The SLOs' names and bounds, and one measured SLO of one feed (`DqResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COMPLETENESS, UNIQUENESS, ACCURACY, TIMELINESS, SCHEMA_DRIFT = (
    "completeness",
    "uniqueness",
    "accuracy",
    "timeliness",
    "schema_drift",
)
METRICS = (COMPLETENESS, UNIQUENESS, ACCURACY, TIMELINESS, SCHEMA_DRIFT)
DEFAULT_COMPLETENESS_PCT = 99.5
MAX_DUPLICATE_PCT = 0.1
MIN_ACCURACY_PCT = 99.0
MIN_TIMELY_PCT = 98.0


@dataclass(frozen=True)
class Threshold:
    """An SLO's bound, e.g. `>= 99.5`."""

    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"

    def met(self, value: float) -> bool:
        """Whether `value` is within the bound."""
        match self.op:
            case ">=":
                return value >= self.limit
            case "<=":
                return value <= self.limit
            case "==":
                return value == self.limit
        raise ValueError(f"unknown comparison {self.op!r}")


@dataclass(frozen=True)
class DqResult:
    """One SLO of one feed, measured: `value` and `passed` are None when it could not be.

    `running` is what the next run's measurement of it can start from instead of reading
    the whole table again (`flows.quality.running`); it is recorded with the results and
    plays no part in comparing them.
    """

    feed: str
    metric: str
    value: float | None
    threshold: str
    passed: bool | None
    detail: str
    running: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


def measured(
    feed: str,
    metric: str,
    bound: Threshold,
    value: float,
    detail: str,
    running: Mapping[str, Any] | None = None,
) -> DqResult:
    """A measured SLO, passed if `value` is within `bound`."""
    return DqResult(feed, metric, value, str(bound), bound.met(value), detail, running)


def not_applicable(feed: str, metric: str, bound: Threshold, why: str) -> DqResult:
    """An SLO that could not be measured, saying why."""
    return DqResult(feed, metric, None, str(bound), None, why)


def percent(part: int, whole: int) -> float:
    """`part` as a percentage of `whole`."""
    return 100.0 * part / whole
