"""The serving copy: the curated customer tables as one read-only SQLite file of ready JSON.

One row per customer key holds the three documents the API returns (profile, history,
timeline), serialised here once per publish instead of on every request; `identifiers`
maps each normalised email, E.164 phone and `source:record id` to its customers; `meta`
records the build (version, time) and the curated snapshot each table was read at.

A copy is built into a temporary file beside its destination and moved over it with
`os.replace`: a reader has the old file open or the new one, never a half-built one, and
the file is never changed once in place (so readers may open it `immutable`).

A profile's day counts (`DAY_COUNTS`) are not stored: they move on every day for every
customer, and the rest of a profile rarely does. The copy keeps instead the UTC day each
counts from (`DAY_ANCHORS`: the day of `last_order_at`, `last_activity_at`), which moves
only with the profile, and in `meta` the day they are counted to (`as_of_day`, the same
for every customer); a count is the one minus the other, spliced into the profile as it is
read (`api/store.py`). A day changes few customers' documents, so a copy is usually built
from the one in place: a byte copy of it in which only the documents and identifiers of
the customers whose rows differ between the snapshots its `meta` records and the current
ones are rewritten (`read_previous` reads the rows at the recorded snapshots). It holds
the rows a full build of the same snapshots writes. Without a copy to build on (none,
another format or timeline limit, a recorded snapshot expired), or when most histories or
timelines changed, the copy is built in full.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.types import DecimalType, TimestamptzType

from c360.s3 import s3_client
from c360.settings import S3Settings, Settings
from catalog.tables import curated
from catalog.tables.definition import Column, TableDef

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

# The marts the copy is built from, by name.
SERVED: dict[str, TableDef] = {
    t.name: t
    for t in curated.TABLES
    if t.name
    in ("customer_360", "dim_customer", "fct_orders", "fct_sessions", "fct_support_tickets")
}
# customer_360's ','-separated lists, served as JSON arrays.
LIST_COLUMNS = ("emails", "phones", "device_ids", "source_ids")
# Each timeline list, newest first: (mart, key in the document, time column, id column).
TIMELINE = (
    ("fct_orders", "orders", "ordered_at", "order_id"),
    ("fct_sessions", "sessions", "started_at", "session_id"),
    ("fct_support_tickets", "tickets", "created_at", "ticket_id"),
)
# Clickstream records are devices: customer_360 lists them in device_ids, not source_ids.
CLICKSTREAM = "clickstream"
ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"
FORMAT_VERSION = 3
BATCH_ROWS = 50_000
# Past this share of the customers having a changed history or timeline, a full build is
# cheaper than rewriting them one by one in a copy of the previous file.
FULL_BUILD_SHARE = 0.5
# The customer_360 columns its identifiers are made of.
IDENTITY_COLUMNS = ("customer_key", "email", "phone", *LIST_COLUMNS)
# The profile columns served but not stored (they change daily), in document order, and
# the stored column each counts from: the UTC day (days since 1970-01-01) of this time.
DAY_COUNTS = ("days_since_last_order", "days_since_last_activity")
DAY_ANCHORS = {"last_order_day": "last_order_at", "last_activity_day": "last_activity_at"}
# The columns of a profile's document.
PROFILE_COLUMNS = tuple(c for c in SERVED["customer_360"].column_names if c not in DAY_COUNTS)

SCHEMA = """
create table meta (name text primary key, value text not null);
create table customers (
    customer_key integer primary key,
    profile blob,       -- null: the key is only in dim_customer (a customer who left)
    history blob not null,
    timeline blob,
    last_order_day integer,  -- the days the profile's day counts count from (DAY_ANCHORS)
    last_activity_day integer
);
create table identifiers (
    kind text not null,  -- email, phone, source
    value text not null,
    customer_key integer not null,
    primary key (kind, value, customer_key)
) without rowid;
"""


class ServingCopyError(RuntimeError):
    """The serving copy cannot be built or fetched; the message says why and what to do."""


@dataclass(frozen=True)
class SnapshotRef:
    """The curated snapshot a table was read at (None: the table has no commit yet)."""

    snapshot_id: int | None
    committed_at: datetime | None


@dataclass(frozen=True)
class CuratedSnapshot:
    """The served marts' rows, by mart name, and the snapshot each was read at."""

    tables: Mapping[str, pa.Table]
    snapshots: Mapping[str, SnapshotRef] = field(default_factory=dict)


@dataclass(frozen=True)
class PreviousRows:
    """What the copy in place was built from: the snapshots its `meta` records, and each
    served mart's rows at its recorded snapshot where the mart has moved on since (a mart
    missing from `tables` is unchanged)."""

    snapshots: Mapping[str, SnapshotRef]
    tables: Mapping[str, pa.Table]


@dataclass(frozen=True)
class _Changes:
    """The customer keys an incremental build rewrites, by what it rewrites for them."""

    added: list[int]  # new keys: a row with all three documents
    gone: list[int]  # keys in neither customer_360 nor dim_customer any more: row deleted
    profiles: list[int]
    histories: list[int]
    timelines: list[int]
    identifiers: list[int]  # every identifier row of these keys is replaced

    def customers(self) -> int:
        """How many customers have a document or identifier rewritten."""
        return len(
            {
                *self.added,
                *self.gone,
                *self.profiles,
                *self.histories,
                *self.timelines,
                *self.identifiers,
            }
        )


@dataclass(frozen=True)
class ServingCopyInfo:
    """What a build wrote."""

    path: Path
    version: str
    built_at: datetime
    customers: int  # customer_360's (the keys with a profile)
    identifiers: int
    snapshots: Mapping[str, SnapshotRef]
    rewritten: int | None = None  # customers rewritten from the previous copy; None: full


def serving_path(settings: Settings) -> Path:
    """Where the serving copy lives: `C360_API__SERVING_PATH`, or under `C360_HOME`."""
    return settings.api.serving_path or settings.home / "serving" / "customers.sqlite"


def read_curated(catalog: Catalog) -> CuratedSnapshot:
    """Each served mart at its current snapshot (a mart never published reads as empty).

    Raises:
        ServingCopyError: curated.customer_360 has never been published.
    """
    tables: dict[str, pa.Table] = {}
    snapshots: dict[str, SnapshotRef] = {}
    for name, definition in SERVED.items():
        table = _load(catalog, definition)
        snapshot = table.current_snapshot() if table is not None else None
        if table is None or snapshot is None:
            tables[name] = definition.schema().as_arrow().empty_table()
            snapshots[name] = SnapshotRef(None, None)
            continue
        tables[name] = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()
        committed = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=UTC)
        snapshots[name] = SnapshotRef(snapshot.snapshot_id, committed)
    if snapshots["customer_360"].snapshot_id is None:
        raise ServingCopyError(
            "curated.customer_360 has no snapshot: run the pipeline (`c360 run`) to publish it"
        )
    return CuratedSnapshot(tables, snapshots)


def read_previous(
    catalog: Catalog, snapshots: Mapping[str, SnapshotRef], current: CuratedSnapshot
) -> PreviousRows | None:
    """The served marts' rows at `snapshots` (an earlier copy's), for each mart whose
    snapshot in `current` is another: what an incremental build diffs `current` with.

    Returns None when one of them cannot be read any more (the snapshot expired, the table
    was dropped, a column added since): the copy must then be built in full.
    """
    tables: dict[str, pa.Table] = {}
    for name, definition in SERVED.items():
        then, now = snapshots.get(name), current.snapshots.get(name)
        if then is None or now is None:
            return None
        if then.snapshot_id == now.snapshot_id:
            continue
        if then.snapshot_id is None:
            tables[name] = definition.schema().as_arrow().empty_table()
            continue
        table = _load(catalog, definition)
        if table is None or table.snapshot_by_id(then.snapshot_id) is None:
            return None
        rows = table.scan(snapshot_id=then.snapshot_id).to_arrow()
        if not set(definition.column_names) <= set(rows.column_names):
            return None
        tables[name] = rows
    return PreviousRows(dict(snapshots), tables)


def build_serving_copy(
    curated_rows: CuratedSnapshot,
    destination: Path,
    *,
    timeline_limit: int = 20,
    version: str | None = None,
    previous: PreviousRows | None = None,
) -> ServingCopyInfo:
    """Build the serving copy of `curated_rows` and move it into place at `destination`.

    With `previous`, when the copy at `destination` was built from its snapshots (with the
    same format and timeline limit), the new copy is that one with only the customers
    whose rows changed rewritten; otherwise, or when most histories or timelines changed,
    it is built in full. Both hold the same rows.

    Args:
        curated_rows: the served marts (a missing one is taken as empty).
        destination: the copy's path; its folder is created if missing.
        timeline_limit: how many of each customer's newest orders, sessions and tickets to keep.
        version: the build's id, served in `/health` and the `X-Serving-Version` header;
            a fresh random one when None.
        previous: the marts' rows at the snapshots the copy in place records
            (`read_previous`).
    """
    import duckdb  # here: the API imports this module, and only publishing builds

    destination.parent.mkdir(parents=True, exist_ok=True)
    version = version or uuid.uuid4().hex
    built_at = datetime.now(UTC)
    temporary = destination.with_name(f".{destination.name}.{version}.tmp")
    try:
        with duckdb.connect() as con:
            tables = {
                name: curated_rows.tables.get(name, definition.schema().as_arrow().empty_table())
                for name, definition in SERVED.items()
            }
            for name, rows in tables.items():
                con.register(name, rows)
            as_of_day = _as_of_day(con)
            changes = None
            if previous is not None:
                changes = _start_from(destination, temporary, previous, tables, timeline_limit)
            with closing(sqlite3.connect(temporary)) as sqlite:
                # A scratch file: nothing to recover if the build dies, so no journal.
                sqlite.executescript("pragma journal_mode = off; pragma synchronous = off;")
                if changes is None:
                    sqlite.executescript(SCHEMA)
                    _write_all(sqlite, con, timeline_limit)
                else:
                    _write_changes(sqlite, con, changes, timeline_limit)
                (profiles,) = con.execute("select count(*) from customer_360").fetchone() or (0,)
                (keys,) = con.execute(f"select count(*) from {ALL_KEYS}").fetchone() or (0,)
                (identifiers,) = sqlite.execute("select count(*) from identifiers").fetchone()
                meta = {
                    "format": FORMAT_VERSION,
                    "version": version,
                    "built_at": built_at.isoformat(),
                    "timeline_limit": timeline_limit,
                    "customers": profiles,
                    "keys": keys,
                    "identifiers": identifiers,
                    "as_of_day": as_of_day,
                    "snapshots": {
                        name: {
                            "snapshot_id": ref.snapshot_id,
                            "committed_at": ref.committed_at.isoformat()
                            if ref.committed_at
                            else None,
                        }
                        for name, ref in curated_rows.snapshots.items()
                    },
                }
                sqlite.execute("delete from meta")
                sqlite.executemany(
                    "insert into meta values (?, ?)",
                    [(name, json.dumps(value)) for name, value in meta.items()],
                )
                sqlite.commit()
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)
    return ServingCopyInfo(
        destination,
        version,
        built_at,
        profiles,
        identifiers,
        dict(curated_rows.snapshots),
        rewritten=None if changes is None else changes.customers(),
    )


def publish_serving_copy(settings: Settings, catalog: Catalog) -> ServingCopyInfo:
    """Build the serving copy of curated's current snapshots (from the copy in place where
    it can be); upload it to `C360_API__SERVING_URI` when that is set."""
    path = serving_path(settings)
    limit = settings.api.timeline_limit
    current = read_curated(catalog)
    built_from = _built_from(path, limit)
    previous = read_previous(catalog, built_from, current) if built_from is not None else None
    info = build_serving_copy(current, path, timeline_limit=limit, previous=previous)
    if settings.api.serving_uri:
        upload_serving_copy(info.path, settings.api.serving_uri, settings.resolved_catalog().s3)
    return info


def upload_serving_copy(path: Path, uri: str, s3: S3Settings) -> None:
    """Put the copy at `uri` (`s3://bucket/key`): a single PUT, so it appears whole."""
    bucket, key = _bucket_key(uri)
    s3_client(s3).upload_file(str(path), bucket, key)


def download_serving_copy(uri: str, path: Path, s3: S3Settings) -> None:
    """Fetch the copy at `uri` (`s3://bucket/key`) to `path`, atomically (temp file, rename).

    Raises:
        ServingCopyError: the object cannot be fetched.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = _bucket_key(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.download")
    try:
        s3_client(s3).download_file(bucket, key, str(temporary))
        os.replace(temporary, path)
    except (BotoCoreError, ClientError) as exc:
        raise ServingCopyError(
            f"cannot fetch the serving copy from {uri} ({exc}): publish one first, or check "
            "C360_API__SERVING_URI and the object store's credentials"
        ) from exc
    finally:
        temporary.unlink(missing_ok=True)


def _bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ServingCopyError(f"serving_uri must be s3://bucket/key, not {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _load(catalog: Catalog, definition: TableDef) -> Table | None:
    try:
        return catalog.load_table(definition.identifier_name)
    except NoSuchTableError:
        return None


def _built_from(path: Path, timeline_limit: int) -> dict[str, SnapshotRef] | None:
    """The snapshots the copy at `path` was built from, when it is a copy of this format
    and timeline limit (None: there is no such copy to build on)."""
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as copy:
            meta = {name: json.loads(value) for name, value in copy.execute("select * from meta")}
    except sqlite3.DatabaseError:
        return None
    if meta.get("format") != FORMAT_VERSION or meta.get("timeline_limit") != timeline_limit:
        return None
    return {
        name: SnapshotRef(
            ref["snapshot_id"],
            datetime.fromisoformat(ref["committed_at"]) if ref["committed_at"] else None,
        )
        for name, ref in meta.get("snapshots", {}).items()
    }


def _start_from(
    destination: Path,
    temporary: Path,
    previous: PreviousRows,
    tables: Mapping[str, pa.Table],
    timeline_limit: int,
) -> _Changes | None:
    """Copy the copy in place to `temporary` and say what to rewrite in it, if it can be
    built on: it was built from `previous`'s snapshots (checked on the copy taken, as the
    one in place may be replaced meanwhile), with this format and timeline limit, and not
    so much changed since that a full build is cheaper. None (and no `temporary`) if not."""
    try:
        shutil.copyfile(destination, temporary)
    except FileNotFoundError:
        return None
    built_from = _built_from(temporary, timeline_limit)
    if built_from is not None and _ids(built_from) == _ids(previous.snapshots):
        changes = _changes(tables, previous)
        if changes is not None:
            return changes
    temporary.unlink()
    return None


def _ids(snapshots: Mapping[str, SnapshotRef]) -> dict[str, int | None]:
    return {name: ref.snapshot_id for name, ref in snapshots.items()}


def _changes(tables: Mapping[str, pa.Table], previous: PreviousRows) -> _Changes | None:
    """The customers whose documents or identifiers differ between the marts `previous`
    holds and `tables`; None when so many changed that a full build is cheaper."""

    def before(name: str) -> pa.Table:
        return previous.tables.get(name, tables[name])

    def changed(name: str, columns: tuple[str, ...] = ()) -> set[int]:
        """The keys of the rows only one side has (a changed row is on both, differing)."""
        if name not in previous.tables:
            return set()
        listed = list(columns or SERVED[name].column_names)
        now, then = _frame(tables[name], listed), _frame(previous.tables[name], listed)
        only = pl.concat(
            [
                now.join(then, on=listed, how="anti", nulls_equal=True),
                then.join(now, on=listed, how="anti", nulls_equal=True),
            ]
        )
        return set(only["customer_key"].drop_nulls().to_list())

    profiled, profiled_before = _key_set(tables["customer_360"]), _key_set(before("customer_360"))
    keys = profiled | _key_set(tables["dim_customer"])
    keys_before = profiled_before | _key_set(before("dim_customer"))
    moved = keys ^ keys_before
    histories = (changed("dim_customer") & keys) - moved
    timelines = (
        (set().union(*(changed(mart) for mart, _, _, _ in TIMELINE)) | (profiled ^ profiled_before))
        & keys
    ) - moved
    if len(histories | timelines | moved) > FULL_BUILD_SHARE * len(keys):
        return None
    return _Changes(
        added=sorted(keys - keys_before),
        gone=sorted(keys_before - keys),
        profiles=sorted(changed("customer_360", PROFILE_COLUMNS) - moved),
        histories=sorted(histories),
        timelines=sorted(timelines),
        identifiers=sorted(changed("customer_360", IDENTITY_COLUMNS)),
    )


def _frame(rows: pa.Table, columns: list[str]) -> pl.DataFrame:
    frame = pl.from_arrow(rows.select(columns))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _key_set(rows: pa.Table) -> set[int]:
    return set(rows["customer_key"].drop_null().to_pylist())


def _write_all(sqlite: sqlite3.Connection, con: duckdb.DuckDBPyConnection, limit: int) -> None:
    """Fill a new copy: every customer's documents and identifiers."""
    _insert(
        sqlite,
        "insert into customers values (?, ?, ?, ?, ?, ?)",
        _batches(con.execute(_documents_sql(limit, ALL_KEYS))),
    )
    _insert(
        sqlite,
        "insert into identifiers values (?, ?, ?)",
        _batches(con.execute(_identifiers_sql("customer_360"))),
    )


def _write_changes(
    sqlite: sqlite3.Connection, con: duckdb.DuckDBPyConnection, changes: _Changes, limit: int
) -> None:
    """Bring a copy of the previous file up to date: rewrite what `changes` names."""
    _delete_keys(sqlite, "customers", changes.gone)
    _insert(
        sqlite,
        "insert into customers values (?, ?, ?, ?, ?, ?)",
        _scoped(con, changes.added, _documents_sql(limit, SCOPE)),
    )
    for columns, keys, query in (
        (("profile", *DAY_ANCHORS), changes.profiles, _profiles_sql(SCOPE)),
        (("history",), changes.histories, _histories_sql(SCOPE)),
        (("timeline",), changes.timelines, _timelines_sql(SCOPE, limit)),
    ):
        assignments = ", ".join(f"{c} = ?{i}" for i, c in enumerate(columns, start=2))
        _insert(
            sqlite,
            f"update customers set {assignments} where customer_key = ?1",
            _scoped(con, keys, f"select * from ({query}) order by customer_key"),
        )
    _delete_keys(sqlite, "identifiers", changes.identifiers)
    _insert(
        sqlite,
        "insert into identifiers values (?, ?, ?)",
        _scoped(con, changes.identifiers, _identifiers_sql(SCOPE)),
    )


def _delete_keys(sqlite: sqlite3.Connection, table: str, keys: list[int]) -> None:
    if keys:
        sqlite.execute(
            f"delete from {table} where customer_key in (select value from json_each(?))",
            (json.dumps(keys),),
        )


def _scoped(
    con: duckdb.DuckDBPyConnection, keys: list[int], query: str
) -> Iterator[list[tuple[object, ...]]]:
    """The rows of `query` with `keys` registered as the relation `SCOPE`."""
    if not keys:
        return iter(())
    con.register(SCOPE, pa.table({"customer_key": pa.array(keys, pa.int64())}))
    return _batches(con.execute(query))


def _batches(result: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[object, ...]]]:
    while batch := result.fetchmany(BATCH_ROWS):
        yield batch


def _insert(
    sqlite: sqlite3.Connection, statement: str, batches: Iterator[list[tuple[object, ...]]]
) -> int:
    count = 0
    for batch in batches:
        sqlite.executemany(statement, batch)
        count += len(batch)
    return count


# --- SQL (DuckDB over the marts' Arrow rows) ------------------------------------------------
# Each query makes its documents for the customer keys of a `scope` relation: every key
# (`ALL_KEYS`) in a full build, the changed ones (`SCOPE`) in an incremental one.

ALL_KEYS = "(select customer_key from customer_360 union select customer_key from dim_customer)"
SCOPE = "scope"


def _json_value(column: Column) -> str:
    """How a column is written in the JSON documents: timestamps as ISO 8601 UTC strings,
    decimals as exact strings (money is never a float), the id lists as arrays."""
    name = f'"{column.name}"'
    if column.name in LIST_COLUMNS:
        return f"coalesce(string_split({name}, ','), []::varchar[])"
    if isinstance(column.type, TimestamptzType):
        return f"strftime({name} at time zone 'UTC', '{ISO_UTC}')"
    if isinstance(column.type, DecimalType):
        return f"{name}::varchar"
    return name


def _struct(definition: TableDef, *, without: tuple[str, ...] = ()) -> str:
    values = ", ".join(
        f'"{c.name}" := {_json_value(c)}' for c in definition.columns if c.name not in without
    )
    return f"struct_pack({values})"


def _in(scope: str) -> str:
    return f"customer_key in (select customer_key from {scope})"


def _documents_sql(timeline_limit: int, scope: str) -> str:
    """One row per customer key in `scope`, in key order: its profile, history and
    timeline as JSON text, and its profile's `DAY_ANCHORS`."""
    return f"""
        with keys as (select customer_key from {scope}),
        profiles as ({_profiles_sql("keys")}),
        histories as ({_histories_sql("keys")}),
        timelines as ({_timelines_sql("keys", timeline_limit)})
        select customer_key, profile, history, timeline, {", ".join(DAY_ANCHORS)}
        from keys
        left join profiles using (customer_key)
        left join histories using (customer_key)
        left join timelines using (customer_key)
        order by customer_key
    """


def _profiles_sql(scope: str) -> str:
    """(customer_key, profile, *DAY_ANCHORS) for each key in `scope`: nulls for a key not in
    customer_360."""
    return f"""
        select customer_key, encode(profiles.body::varchar) as profile, {", ".join(DAY_ANCHORS)}
        from {scope} left join (
            select customer_key,
                   to_json({_struct(SERVED["customer_360"], without=DAY_COUNTS)}) as body,
                   {_anchors()}
            from customer_360 where {_in(scope)}
        ) profiles using (customer_key)
    """


def _anchors() -> str:
    """customer_360's `DAY_ANCHORS`, as columns of a select."""
    return ", ".join(f"{_utc_day(column)} as {anchor}" for anchor, column in DAY_ANCHORS.items())


def _utc_day(column: str) -> str:
    return f"""(("{column}" at time zone 'UTC')::date - date '1970-01-01')"""


def _as_of_day(con: duckdb.DuckDBPyConnection) -> int | None:
    """The day customer_360's day counts count to (None: no count is set), from every count
    and its anchor.

    Raises:
        ServingCopyError: the counts disagree on it: the copy keeps one as-of day.
    """
    pairs = " union ".join(
        f"select {_utc_day(column)} + {count} as day from customer_360 where {count} is not null"
        for count, column in zip(DAY_COUNTS, DAY_ANCHORS.values(), strict=True)
    )
    days = [
        day for (day,) in con.execute(f"select distinct day from ({pairs}) order by day").fetchall()
    ]
    if len(days) > 1:
        raise ServingCopyError(
            f"customer_360's day counts count to {len(days)} different days (days "
            f"{days[0]} to {days[-1]} since 1970-01-01), not to one as-of date: rebuild the marts"
        )
    return days[0] if days else None


def _histories_sql(scope: str) -> str:
    """(customer_key, history) for each key in `scope`: its dim_customer versions, oldest
    first."""
    # The versions are serialised one by one and listed as JSON: DuckDB orders a list of
    # text several times faster than a list of structs.
    version = _struct(SERVED["dim_customer"], without=("customer_key",))
    return f"""
        select customer_key,
               encode('{{"customer_key":' || customer_key || ',"versions":'
                      || coalesce(versions.items::varchar, '[]') || '}}') as history
        from {scope} left join (
            select customer_key,
                   to_json(list(to_json({version}) order by valid_from, customer_version_id))
                       as items
            from dim_customer where {_in(scope)} group by customer_key
        ) versions using (customer_key)
    """


def _timelines_sql(scope: str, timeline_limit: int) -> str:
    """(customer_key, timeline) for each key in `scope`: its newest `timeline_limit` orders,
    sessions and tickets, newest first; null for a key not in customer_360."""
    limit = int(timeline_limit)
    timeline_ctes = ",\n".join(
        f"""{key} as (
            select customer_key, to_json(list(item order by "{at}" desc, "{id_}" desc)) as items
            from (
                select customer_key, "{at}", "{id_}",
                       to_json({_struct(SERVED[mart], without=("customer_key",))}) as item
                from {mart} where {_in(scope)}
                qualify row_number() over (
                    partition by customer_key order by "{at}" desc, "{id_}" desc
                ) <= {limit}
            )
            group by customer_key
        )"""
        for mart, key, at, id_ in TIMELINE
    )
    timeline_json = " || ',' || ".join(
        f"""'"{key}":' || coalesce({key}.items::varchar, '[]')""" for _, key, _, _ in TIMELINE
    )
    timeline_joins = "\n".join(f"left join {key} using (customer_key)" for _, key, _, _ in TIMELINE)
    return f"""
        with {timeline_ctes}
        select customer_key,
               case when {_in("customer_360")} then
                   encode('{{"customer_key":' || customer_key || ',' || {timeline_json} || '}}')
               end as timeline
        from {scope}
        {timeline_joins}
    """


def _split(kind: str, column: str, prefix: str = "") -> str:
    return f"""
        select '{kind}' as kind, {prefix}unnest(string_split("{column}", ',')) as value,
               customer_key
        from people where "{column}" is not null and "{column}" <> ''
    """


def _identifiers_sql(scope: str) -> str:
    """(kind, value, customer_key): every identifier of the customers in `scope`."""
    return f"""
        with people as (select * from customer_360 where {_in(scope)})
        select distinct kind, value, customer_key from (
            {_split("email", "emails")}
            union all select 'email', email, customer_key from people where email is not null
            union all {_split("phone", "phones")}
            union all select 'phone', phone, customer_key from people where phone is not null
            union all {_split("source", "source_ids")}
            union all {_split("source", "device_ids", prefix=f"'{CLICKSTREAM}:' || ")}
        )
        where value <> ''
        order by kind, value, customer_key
    """
