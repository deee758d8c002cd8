"""Running measures: a run's data quality measured from what the last recorded run carried
(reading only what is new) equals the same measured from every row, day after day with every
fault the simulator injects, and when the lakehouse is made to break an SLO between runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from c360.settings import Settings
from catalog.tables import raw, staging
from catalog.writer import write
from flows.quality import (
    ACCURACY,
    COMPLETENESS,
    SCHEMA_DRIFT,
    UNIQUENESS,
    DqResult,
    measure,
    write_results,
)
from flows.quality.running import CARRIED
from flows.quality.sampling import Lowest, sample_keys
from simulator.truth import RECORDS
from simulator.world import simulate
from tests.flows.crm_source import table_rows
from tests.flows.lakehouse_days import ingest_everything, stage_everything

FAULTS = ["schema_drift", "malformed_files", "null_keys", "duplicate_keys", "clock_skew"]
STREAM = "clickstream_events"
# Figures carried on every run while their tables only grow (database samples and emitted
# ids: while the staging snapshot they were last checked against can still be read).
ALWAYS_CARRIED = [
    (STREAM, UNIQUENESS),
    (STREAM, ACCURACY),
    *((feed, ACCURACY) for feed in ("orders_orders", "orders_order_items", "orders_payments")),
    *(
        (feed, ACCURACY)
        for feed in ("vendor_loyalty_members", "vendor_product_feed", "support_tickets")
    ),
    *((feed, COMPLETENESS) for feed in ("vendor_loyalty_members", "support_tickets")),
]


def _live(settings: Settings, catalog: Catalog, run_id: str) -> None:
    ingest_everything(settings, catalog, run_id)
    stage_everything(settings, catalog, run_id)


def _by(results: Sequence[DqResult]) -> dict[tuple[str, str], DqResult]:
    return {(r.feed, r.metric): r for r in results}


def _carried(result: DqResult) -> int:
    assert result.running is not None, (result.feed, result.metric)
    return int(result.running[CARRIED])


def _state(result: DqResult) -> Mapping[str, Any]:
    """What a running measure holds, comparable between a carried and a full computation
    (a database sample's margin of keys depends on its history: only the sample is)."""
    assert result.running is not None
    state = {k: v for k, v in result.running.items() if k != CARRIED}
    if "lowest" in state:
        state["lowest"] = Lowest.from_json(state["lowest"]).sample()
    return state


def _measure_both(
    catalog: Catalog, settings: Settings, run_id: str, feeds: Sequence[str] | None = None
) -> dict[tuple[str, str], DqResult]:
    """The run's results carried on from the last recorded run, checked equal to the same
    computed from every row (values, verdicts, details and what they carry on)."""
    carried = measure(catalog, settings, run_id=run_id, feeds=feeds)
    full = measure(catalog, settings, run_id=run_id, feeds=feeds, full=True)
    assert carried == full
    for mine, theirs in zip(carried, full, strict=True):
        if theirs.running is not None:
            assert _state(mine) == _state(theirs), (mine.feed, mine.metric)
    return _by(carried)


def test_carried_measures_equal_full_ones_day_after_day_with_faults(
    make_settings: Callable[..., Settings], catalog: Catalog
) -> None:
    tiny = make_settings(scale="tiny", simulator={"faults": FAULTS, "fault_day": 1})
    for day in range(3):
        simulate(tiny, days=1 if day else 0)
        run = f"day-{day}"
        _live(tiny, catalog, run)

        results = _measure_both(catalog, tiny, run)

        assert {key: _carried(results[key]) for key in ALWAYS_CARRIED} == dict.fromkeys(
            ALWAYS_CARRIED, day
        )
        write_results(catalog, list(results.values()), run_id=run)
    # The faults were there to be measured: drift, and SLOs missed.
    assert results["vendor_loyalty_members", SCHEMA_DRIFT].passed is False
    assert sum(r.passed is False for r in results.values()) >= 4


@pytest.fixture
def second_day(make_settings: Callable[..., Settings], catalog: Catalog) -> Settings:
    """A tiny world lived for a day with its quality recorded, then a second day ingested
    and staged (run `day-1`)."""
    tiny = make_settings(scale="tiny")
    simulate(tiny)
    _live(tiny, catalog, "day-0")
    write_results(catalog, measure(catalog, tiny, run_id="day-0"), run_id="day-0")
    simulate(tiny, days=1)
    _live(tiny, catalog, "day-1")
    return tiny


def test_events_repeated_or_altered_since_are_caught_from_what_is_new(
    second_day: Settings, catalog: Catalog
) -> None:
    events = table_rows(catalog, staging.CLICKSTREAM_EVENTS)
    sample = sample_keys(events["event_id"])
    first = sample[0]
    again = pl.concat(
        [
            # A sampled event staged twice: once as it was, once altered; and three others.
            events.filter(pl.col("event_id") == first),
            events.filter(pl.col("event_id") == first).with_columns(page=pl.lit("/altered")),
            events.filter(~pl.col("event_id").is_in(sample)).head(3),
        ]
    )
    write(catalog, staging.CLICKSTREAM_EVENTS, again, batch_id="again", run_id="test")

    results = _measure_both(catalog, second_day, "day-1", [STREAM])

    unique, accurate = results[STREAM, UNIQUENESS], results[STREAM, ACCURACY]
    assert (_carried(unique), _carried(accurate)) == (1, 1)
    repeated = f"5 of {events.height + 5:,} staged rows repeat an earlier row's event_id"
    assert unique.detail == repeated
    assert unique.passed is False
    assert accurate.detail.startswith("501 of 502 sampled staged events agree")
    assert accurate.value == pytest.approx(100 * 501 / 502)
    write_results(catalog, list(results.values()), run_id="check-1")

    # A record arrives carrying the altered payload: the altered row now agrees with one.
    record = table_rows(catalog, raw.CLICKSTREAM_EVENTS).filter(pl.col("event_id") == first)
    altered = record.head(1).with_columns(
        payload=pl.col("payload").str.replace(r'"page":"[^"]*"', '"page":"/altered"'),
        _batch_id=pl.lit("redelivered"),
    )
    write(catalog, raw.CLICKSTREAM_EVENTS, altered, batch_id="redelivered", run_id="test")

    results = _measure_both(catalog, second_day, "day-1", [STREAM])

    accurate = results[STREAM, ACCURACY]
    assert _carried(accurate) == 2
    assert accurate.detail.startswith("502 of 502 sampled staged events agree")


def test_a_row_added_to_a_file_landed_before_is_caught_from_what_is_new(
    second_day: Settings, catalog: Catalog
) -> None:
    loyalty = table_rows(catalog, raw.VENDOR_LOYALTY_MEMBERS)
    first_file = loyalty["_source_file"].min()
    extra = loyalty.filter(pl.col("_source_file") == first_file).head(1)
    write(catalog, raw.VENDOR_LOYALTY_MEMBERS, extra, batch_id="extra", run_id="test")

    results = _measure_both(catalog, second_day, "day-1", ["vendor_loyalty_members"])

    accurate = results["vendor_loyalty_members", ACCURACY]
    assert _carried(accurate) == 1
    second_file = loyalty.filter(pl.col("_source_file") != first_file).height
    assert accurate.detail == (
        f"{second_file:,} of {loyalty.height:,} rows in files whose checksum matches the "
        "manifest (1 of 2 files)"
    )
    assert accurate.passed is False


def test_what_was_rewritten_since_is_measured_in_full_again(
    second_day: Settings, catalog: Catalog
) -> None:
    stage_everything(second_day, catalog, "rebuild", full=True)
    # A day's truth written again (as emitting it again after a crash would).
    first_day = min((second_day.sources_dir / "truth" / RECORDS).glob("*.parquet"))
    os.utime(first_day, ns=(first_day.stat().st_atime_ns, first_day.stat().st_mtime_ns + 1))

    results = _measure_both(catalog, second_day, "day-1", [STREAM, "vendor_loyalty_members"])

    assert _carried(results[STREAM, UNIQUENESS]) == 0
    assert _carried(results[STREAM, ACCURACY]) == 0
    assert _carried(results["vendor_loyalty_members", COMPLETENESS]) == 0
    # What neither touched is still carried.
    assert _carried(results["vendor_loyalty_members", ACCURACY]) == 1
    assert results[STREAM, UNIQUENESS].value == 0.0
