"""The support tickets' staging in Spark stages what Polars stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from catalog.tables import staging
from tests.transforms.frames import empty
from tests.transforms.polars.test_tickets import DAY1, DAY2, _at, _raw, _ticket
from tests.transforms.spark.twins import assert_same_rows, run_twins
from transforms.engines import function

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DAY3 = "tickets/tickets_20260103.jsonl"
FIRST = [
    _ticket("T1", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=1),
    _ticket("T2", "2026-01-01T11:00:00Z", file=DAY1, ingested=_at(2), position=2, email=None),
    # Same capture: the earlier file, then the earlier row (by number) wins.
    _ticket("T5", "2026-01-01T09:00:00Z", file=DAY2, ingested=_at(2), position=1, subject="b"),
    _ticket("T5", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=3, subject="a"),
    _ticket("T6", "2026-01-01 10:00", file=DAY1, ingested=_at(2), position=10, subject="y"),
    _ticket("T6", "2026-01-01 10:00", file=DAY1, ingested=_at(2), position=9, subject="x"),
    _ticket(None, "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=11),
    _ticket(" \u00a0", "2026-01-01T09:00:00Z", file=DAY1, ingested=_at(2), position=12),
]
SECOND = [
    # Re-exports of staged tickets, listed first; a ticket created before one staged.
    _ticket("T1", "2026-01-01T09:00:00Z", file=DAY3, ingested=_at(3), position=1, email="x"),
    _ticket("T3", "2026-01-01T10:00:00Z", file=DAY3, ingested=_at(3), position=2),
    _ticket("\u00a0T4 ", "2026-01-02t10:30:00+01:00", file=DAY3, ingested=_at(3), position=3),
    _ticket("T7", "not a time", file=DAY3, ingested=_at(3), position=4, email="\tA@B.C "),
    _ticket("T8", "2026-01-01T23:59:60Z", file=DAY3, ingested=_at(3), position=5),
    _ticket("T9", "2026-01-01T10:00:00+19:00", file=DAY3, ingested=_at(3), position=6),
    _ticket("T10", "2026-01-01T00:54:54.1234567-0500", file=DAY3, ingested=_at(3), position=7),
]


@pytest.mark.parametrize("prior_staged", [False, True], ids=["empty prior", "first day staged"])
def test_stages_what_polars_stages(spark: SparkSession, prior_staged: bool) -> None:
    table = staging.SUPPORT_TICKETS
    prior, raw = empty(table), _raw(*FIRST, *SECOND)
    if prior_staged:
        prior = function("polars", "tickets", "stage_support_tickets")(prior, _raw(*FIRST))
        raw = _raw(*SECOND)

    by_polars, by_spark = run_twins(spark, "tickets", "stage_support_tickets", prior, raw)

    assert by_spark.column_names == table.column_names
    assert_same_rows(by_polars, by_spark, table)
    # New tickets only, in creation order, as Polars returns them.
    assert by_spark["ticket_id"].to_pylist() == by_polars["ticket_id"].to_pylist()
    assert by_spark.num_rows == (6 if prior_staged else 10)
