"""The SLOs' names and bounds, and one measured SLO of one feed (`DqResult`)."""

from __future__ import annotations

from dataclasses import dataclass

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
    """One SLO of one feed, measured: `value` and `passed` are None when it could not be."""

    feed: str
    metric: str
    value: float | None
    threshold: str
    passed: bool | None
    detail: str


def measured(feed: str, metric: str, bound: Threshold, value: float, detail: str) -> DqResult:
    """A measured SLO, passed if `value` is within `bound`."""
    return DqResult(feed, metric, value, str(bound), bound.met(value), detail)


def not_applicable(feed: str, metric: str, bound: Threshold, why: str) -> DqResult:
    """An SLO that could not be measured, saying why."""
    return DqResult(feed, metric, None, str(bound), None, why)


def percent(part: int, whole: int) -> float:
    """`part` as a percentage of `whole`."""
    return 100.0 * part / whole
