"""Events summed up per group and prior key: the DuckDB index the flow uses and its Polars
twin agree, and the index lists and counts the events resolution and writes need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import duckdb
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
    """The previous xref: the events', and an order's, which the index leaves out."""
    return pa.table(
        {
            "source": [EVENT_SOURCE] * len(PRIOR) + ["orders"],
            "source_record_id": [p[0] for p in PRIOR] + ["e01"],
            "customer_key": pa.array([p[1] for p in PRIOR] + [1], pa.int64()),
            "match_rule": [p[2] for p in PRIOR] + ["exact_email"],
        }
    )


def _truth() -> pa.Table:
    """The events' persons, and an order's, which the index leaves out."""
    return pa.table(
        {
            "source": [EVENT_SOURCE] * len(PERSON) + ["orders"],
            "source_record_id": [*PERSON, "e08"],
            "person_id": [*PERSON.values(), "P9"],
        }
    )


@contextmanager
def _index(prior: pa.Table | None = None, truth: pa.Table | None = None) -> Iterator[EventIndex]:
    """The index of `EVENTS` over `prior` and `truth` (default: `_prior()`, `_truth()`)."""
    with duckdb.connect() as db:
        db.execute("set TimeZone = 'UTC'")
        db.register("staged", _events())
        db.register("prior", _prior() if prior is None else prior)
        db.register("truth", _truth() if truth is None else truth)
        yield EventIndex(db, "staged", "prior", "truth")


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
    prior = prior.filter(pl.col("source") == EVENT_SOURCE)

    with _index() as index:
        units = index.units()

    expected = event_units(records, prior)
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


def test_keyed_lists_every_event_with_an_identity_with_its_groups_key_and_rule() -> None:
    groups = pl.DataFrame(
        {
            "device_id": ["d1", "d1", "d2", None, "d3"],
            "crm_ref": [None, "C1", None, "C2", "C3"],
            "customer_key": [3, 3, 8, 2, 4],
            "match_rule": ["device_login", "crm_id", "anonymous_device", "crm_id", "crm_id"],
        },
        schema_overrides={"customer_key": pl.Int64},
    )

    with _index() as index:
        keyed = pl.from_arrow(index.keyed(groups))

    assert isinstance(keyed, pl.DataFrame)
    assert keyed["source"].unique().to_list() == [EVENT_SOURCE]
    assert keyed["match_probability"].unique().to_list() == [1.0]
    assert _sorted(keyed.select("source_record_id", "customer_key", "match_rule")).rows() == [
        ("e01", 3, "device_login"),
        ("e02", 3, "device_login"),
        ("e03", 3, "crm_id"),
        ("e04", 3, "device_login"),
        ("e05", 8, "anonymous_device"),
        ("e06", 2, "crm_id"),
        ("e07", 2, "crm_id"),
        ("e10", 4, "crm_id"),
    ]


def test_with_no_prior_row_or_truth_every_event_is_new_and_of_no_known_person() -> None:
    empty_prior = _prior().slice(0, 0)
    empty_truth = _truth().slice(0, 0)

    with _index(empty_prior, empty_truth) as index:
        assert index.units()["old_key"].is_null().all()
        assert index.persons().is_empty()
        assert index.unidentified()["person_id"].is_null().all()
