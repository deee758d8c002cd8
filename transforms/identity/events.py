"""Events summed up for resolution: per group (`profiles.GROUP`) and prior key.

An event says no more than a device and the customer it was logged in as, so every event
of a group attaches to the same profile and gets the same key: resolution needs of them
only how many there are, their first id (which orders persons, `keys.key_clusters`) and
the span of their times (golden records), per group and the key they had before.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa

from transforms.identity.golden import ACTIVITY_SCHEMA
from transforms.identity.profiles import EVENT_SOURCE, GROUP

RECORD = ["source", "source_record_id"]
EVENT_UNIT_SCHEMA = pl.Schema(
    {
        "device_id": pl.String(),
        "crm_ref": pl.String(),
        "old_key": pl.Int64(),
        "events": pl.Int64(),
        "first_id": pl.String(),
        "first_at": pl.Datetime("us", "UTC"),
        "last_at": pl.Datetime("us", "UTC"),
    }
)


def event_units(events: pl.DataFrame, prior: pl.DataFrame) -> pl.DataFrame:
    """`events` (identity records with a device or a customer) summed up per group and
    prior key (`EVENT_UNIT_SCHEMA`).

    Args:
        events: `source`, `source_record_id`, `device_id`, `crm_ref`, `observed_at`.
        prior: `source`, `source_record_id`, `customer_key`: the previous run's keys.
    """
    return (
        events.join(prior.select(*RECORD, old_key="customer_key"), on=RECORD, how="left")
        .group_by(*GROUP, "old_key")
        .agg(
            events=pl.len(),
            first_id=pl.col("source_record_id").min(),
            first_at=pl.col("observed_at").min(),
            last_at=pl.col("observed_at").max(),
        )
        .cast(EVENT_UNIT_SCHEMA)
        .select(EVENT_UNIT_SCHEMA.names())
    )


def event_activity(units: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """The events of each person, as `golden_records` counts them (`ACTIVITY_SCHEMA`).

    Args:
        units: `EVENT_UNIT_SCHEMA`.
        groups: `GROUP` and `customer_key` of every group.
    """
    return (
        units.join(groups, on=GROUP, nulls_equal=True)
        .group_by("customer_key")
        .agg(
            records=pl.col("events").sum(),
            first_seen_at=pl.col("first_at").min(),
            last_seen_at=pl.col("last_at").max(),
        )
        .with_columns(source=pl.lit(EVENT_SOURCE))
        .cast(ACTIVITY_SCHEMA)
        .select(ACTIVITY_SCHEMA.names())
    )


class EventIndex:
    """The staged events in DuckDB, each with the key and rule the previous run gave it and
    the person the truth says it is: summed up for resolution (`units`, `persons`) and
    listed with their groups' new keys for writing (`keyed`).

    Millions of events are joined and summed here once, by DuckDB (several times faster
    than Polars at joining and grouping on text ids, and reading the tables' files itself:
    `catalog.duckdb_scan`); resolution then sees tens of thousands of rows.
    """

    def __init__(
        self, db: duckdb.DuckDBPyConnection, events: str, prior: str, truth: str | None
    ) -> None:
        """
        Args:
            db: the connection holding the three relations (it builds `ev` there).
            events: the staged events (`event_id`, `device_id`, `customer_id`, `event_at`).
            prior: the previous xref (`source`, `source_record_id`, `customer_key`,
                `match_rule`), every source; only its events are read.
            truth: `source`, `source_record_id`, `person_id` of every record the truth
                knows (None: no truth known); only its events are read.
        """
        self._db = db
        known = (
            f"(select source_record_id, person_id from {truth} where source = '{EVENT_SOURCE}')"
            if truth is not None
            else "(select null::varchar as source_record_id, null::varchar as person_id "
            "where false)"
        )
        # One pass joins each event to its prior row and its person; the rest reads `ev`.
        self._db.execute(
            f"""
            create or replace temporary table ev as
            select e.event_id, e.device_id, e.customer_id as crm_ref, e.event_at,
                   p.customer_key as old_key, p.match_rule as old_rule, t.person_id
            from {events} e
            left join (
                select source_record_id, customer_key, match_rule
                from {prior} where source = '{EVENT_SOURCE}'
            ) p on p.source_record_id = e.event_id
            left join {known} t on t.source_record_id = e.event_id
            """
        )

    def _frame(self, sql: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        frame = pl.from_arrow(self._db.sql(sql).to_arrow_table())
        assert isinstance(frame, pl.DataFrame)
        return frame.cast(schema)  # type: ignore[arg-type]

    def units(self) -> pl.DataFrame:
        """The events with an identity per group, prior key and prior rule
        (`EVENT_UNIT_SCHEMA` and `old_rule`), in no particular order."""
        return self._frame(
            f"""
            select device_id, crm_ref, old_key, count(*) as events, min(event_id) as first_id,
                   min(event_at) as first_at, max(event_at) as last_at, old_rule
            from ev where {_IDENTIFIED}
            group by device_id, crm_ref, old_key, old_rule
            """,
            {**EVENT_UNIT_SCHEMA, "old_rule": pl.String()},
        )

    def persons(self) -> pl.DataFrame:
        """`GROUP`, `person_id`, `records`: the events with an identity that the truth
        knows, per group and person."""
        return self._frame(
            f"""
            select device_id, crm_ref, person_id, count(*) as records
            from ev where {_IDENTIFIED} and person_id is not null
            group by device_id, crm_ref, person_id
            """,
            {
                "device_id": pl.String(),
                "crm_ref": pl.String(),
                "person_id": pl.String(),
                "records": pl.Int64(),
            },
        )

    def unidentified(self) -> pl.DataFrame:
        """`source_record_id`, `person_id` (null: unknown to the truth) of the events with
        neither a device nor a customer."""
        return self._frame(
            f"select event_id as source_record_id, person_id from ev where not {_IDENTIFIED}",
            {"source_record_id": pl.String(), "person_id": pl.String()},
        )

    def keyed(self, groups: pl.DataFrame) -> pa.Table:
        """Every event with an identity as an xref row (`source`, `source_record_id`,
        `customer_key`, `match_rule`, `match_probability` 1.0) with its group's key and
        rule in `groups` (`GROUP`, `customer_key`, `match_rule`)."""
        self._db.register("keyed_groups", groups.select(*GROUP, "customer_key", "match_rule"))
        match = " and ".join(f"ev.{c} is not distinct from g.{c}" for c in GROUP)
        rows = self._db.sql(
            f"""
            select '{EVENT_SOURCE}' as source, ev.event_id as source_record_id,
                   g.customer_key, g.match_rule, 1.0::double as match_probability
            from ev join keyed_groups g on {match}
            """
        ).to_arrow_table()
        self._db.unregister("keyed_groups")
        return rows


_IDENTIFIED = "(device_id is not null or crm_ref is not null)"
