"""Events summed up per group and prior key: the DuckDB index the flow uses and its Polars
twin agree, and the index lists, counts and finds the events resolution and writes need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from transforms.identity.events import EVENT_UNIT_SCHEMA, EventIndex, event_units
from transforms.identity.profiles import EVENT_SOURCE

START = datetime(2026, 3, 1, tzinfo=UTC)
# event_id, device_id, customer_id, minutes after START
EVENTS = [
    ("e01", "d1", None, 0),
    ("e02", "d1", None, 5),
    ("e03", "d1", "C1", 9),
    ("e04", "d1", None, 30),  # new: no prior row
    ("e05", "d2", None, 1),
    ("e06", None, "C2", 2),
    ("e07", None, "C2", 3),  # new
    ("e08", None, None, 4),  # no identity
    ("e09", None, None, 6),  # no identity, unknown to the truth
    ("e10", "d3", "C3", None),  # no time
]
# source_record_id, customer_key, match_rule
PRIOR = [
    ("e01", 7, "anonymous_device"),
    ("e02", 7, "anonymous_device"),
    ("e03", 3, "crm_id"),
    ("e05", 8, "anonymous_device"),
    ("e06", 2, "crm_id"),
    ("e10", 4, "crm_id"),
    ("e99", 9, "anonymous_device"),  # an event staged no more
]
PERSON = {"e01": "P1", "e02": "P1", "e03": "P1", "e04": "P2", "e05": "P3", "e06": "P2"}
PERSON |= {"e07": "P2", "e08": "P4", "e10": "P5"}


def _events() -> pa.Table:
    return pa.table(
        {
            "event_id": [e[0] for e in EVENTS],
            "device_id": [e[1] for e in EVENTS],
            "customer_id": [e[2] for e in EVENTS],
            "event_at": pa.array(
                [None if e[3] is None else START + timedelta(minutes=e[3]) for e in EVENTS],
                pa.timestamp("us", "UTC"),
            ),
        }
    )


def _prior() -> pa.Table:
    return pa.table(
        {
            "source_record_id": [p[0] for p in PRIOR],
            "customer_key": pa.array([p[1] for p in PRIOR], pa.int64()),
            "match_rule": [p[2] for p in PRIOR],
        }
    )


def _truth() -> pa.Table:
    return pa.table({"source_record_id": list(PERSON), "person_id": list(PERSON.values())})


def _index() -> EventIndex:
    return EventIndex(_events(), _prior(), _truth())


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_the_index_sums_events_up_as_event_units_does() -> None:
    events = pl.from_arrow(_events())
    assert isinstance(events, pl.DataFrame)
    records = events.filter(pl.any_horizontal(pl.col("device_id", "customer_id").is_not_null()))
    records = records.select(
        source=pl.lit(EVENT_SOURCE),
        source_record_id="event_id",
        device_id="device_id",
        crm_ref="customer_id",
        observed_at="event_at",
    )
    prior = pl.from_arrow(_prior())
    assert isinstance(prior, pl.DataFrame)

    with _index() as index:
        units = index.units()

    expected = event_units(records, prior.with_columns(source=pl.lit(EVENT_SOURCE)))
    assert _sorted(units.select(EVENT_UNIT_SCHEMA.names())).equals(_sorted(expected))
    d1 = units.filter(pl.col("device_id") == "d1", pl.col("crm_ref").is_null())
    assert _sorted(d1.select("old_key", "events", "first_id", "old_rule")).rows() == [
        (7, 2, "e01", "anonymous_device"),
        (None, 1, "e04", None),
    ]


def test_persons_are_counted_per_group_among_the_events_the_truth_knows() -> None:
    with _index() as index:
        persons = index.persons()

    assert _sorted(persons).rows() == [
        ("d1", "C1", "P1", 1),
        ("d1", None, "P1", 2),
        ("d1", None, "P2", 1),
        ("d2", None, "P3", 1),
        ("d3", "C3", "P5", 1),
        (None, "C2", "P2", 2),
    ]


def test_events_with_neither_device_nor_customer_are_listed_apart() -> None:
    with _index() as index:
        unidentified = index.unidentified()

    assert _sorted(unidentified).rows() == [("e08", "P4"), ("e09", None)]


def test_listed_gives_the_events_of_the_chosen_units_with_the_columns_given() -> None:
    chosen = pl.DataFrame(
        {
            "device_id": ["d1", "d1", None],
            "crm_ref": [None, None, "C2"],
            "old_key": [7, None, None],
            "old_rule": ["anonymous_device", None, None],
            "customer_key": [3, 3, 2],
        },
        schema_overrides={"old_key": pl.Int64, "customer_key": pl.Int64},
    )

    with _index() as index:
        listed = index.listed(chosen)

    assert _sorted(listed).rows() == [("e01", 3), ("e02", 3), ("e04", 3), ("e07", 2)]


def test_gone_names_the_prior_events_staged_no_more() -> None:
    with _index() as index:
        assert index.gone() == ["e99"]
    kept = _prior().filter(pa.compute.not_equal(_prior()["source_record_id"], "e99"))
    with EventIndex(_events(), kept, None) as index:
        assert index.gone() == []
        assert index.persons().is_empty()
        assert index.unidentified()["person_id"].is_null().all()
