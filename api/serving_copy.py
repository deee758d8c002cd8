"""The serving copy: the curated customer tables as one read-only SQLite file of ready JSON.

One row per customer key holds the three documents the API returns (profile, history,
timeline), serialised here once per publish instead of on every request; `identifiers`
maps each normalised email, E.164 phone and `source:record id` to its customers; `meta`
records the build (version, time) and the curated snapshot each table was read at.

A copy is built into a temporary file beside its destination and moved over it with
`os.replace`: a reader has the old file open or the new one, never a half-built one, and
the file is never changed once in place (so readers may open it `immutable`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

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
FORMAT_VERSION = 1
BATCH_ROWS = 50_000

SCHEMA = """
create table meta (name text primary key, value text not null);
create table customers (
    customer_key integer primary key,
    profile blob,       -- null: the key is only in dim_customer (a customer who left)
    history blob not null,
    timeline blob
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
class ServingCopyInfo:
    """What a build wrote."""

    path: Path
    version: str
    built_at: datetime
    customers: int  # customer_360's (the keys with a profile)
    identifiers: int
    snapshots: Mapping[str, SnapshotRef]


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
        try:
            table = catalog.load_table(definition.identifier_name)
        except NoSuchTableError:
            table = None
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


def build_serving_copy(
    curated_rows: CuratedSnapshot,
    destination: Path,
    *,
    timeline_limit: int = 20,
    version: str | None = None,
) -> ServingCopyInfo:
    """Build the serving copy of `curated_rows` and move it into place at `destination`.

    Args:
        curated_rows: the served marts (a missing one is taken as empty).
        destination: the copy's path; its folder is created if missing.
        timeline_limit: how many of each customer's newest orders, sessions and tickets to keep.
        version: the build's id, served in `/health` and the `X-Serving-Version` header;
            a fresh random one when None.
    """
    import duckdb  # here: the API imports this module, and only publishing builds

    destination.parent.mkdir(parents=True, exist_ok=True)
    version = version or uuid.uuid4().hex
    built_at = datetime.now(UTC)
    temporary = destination.with_name(f".{destination.name}.{version}.tmp")
    try:
        with duckdb.connect() as con:
            for name, definition in SERVED.items():
                rows = curated_rows.tables.get(name)
                if rows is None:
                    rows = definition.schema().as_arrow().empty_table()
                con.register(name, rows)
            sqlite = sqlite3.connect(temporary)
            try:
                # A scratch file: nothing to recover if the build dies, so no journal.
                sqlite.executescript(
                    "pragma journal_mode = off; pragma synchronous = off;" + SCHEMA
                )
                keys = _insert(
                    sqlite,
                    "insert into customers values (?, ?, ?, ?)",
                    _batches(con.execute(_documents_sql(timeline_limit))),
                )
                identifiers = _insert(
                    sqlite,
                    "insert into identifiers values (?, ?, ?)",
                    _batches(con.execute(IDENTIFIERS_SQL)),
                )
                (profiles,) = sqlite.execute(
                    "select count(*) from customers where profile is not null"
                ).fetchone()
                meta = {
                    "format": FORMAT_VERSION,
                    "version": version,
                    "built_at": built_at.isoformat(),
                    "customers": profiles,
                    "keys": keys,
                    "identifiers": identifiers,
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
                sqlite.executemany(
                    "insert into meta values (?, ?)",
                    [(name, json.dumps(value)) for name, value in meta.items()],
                )
                sqlite.commit()
            finally:
                sqlite.close()
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)
    return ServingCopyInfo(
        destination, version, built_at, profiles, identifiers, dict(curated_rows.snapshots)
    )


def publish_serving_copy(settings: Settings, catalog: Catalog) -> ServingCopyInfo:
    """Rebuild the serving copy from curated's current snapshots; upload it to
    `C360_API__SERVING_URI` when that is set."""
    info = build_serving_copy(
        read_curated(catalog), serving_path(settings), timeline_limit=settings.api.timeline_limit
    )
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


def _documents_sql(timeline_limit: int) -> str:
    """One row per customer key: its profile, history and timeline as JSON text."""
    limit = int(timeline_limit)
    timeline_ctes = ",\n".join(
        f"""{key} as (
            select customer_key,
                   to_json(list({_struct(SERVED[mart], without=("customer_key",))}
                                order by "{at}" desc, "{id_}" desc)[1:{limit}]) as items
            from {mart} where customer_key is not null group by customer_key
        )"""
        for mart, key, at, id_ in TIMELINE
    )
    timeline_json = " || ',' || ".join(
        f"""'"{key}":' || coalesce({key}.items::varchar, '[]')""" for _, key, _, _ in TIMELINE
    )
    timeline_joins = "\n".join(f"left join {key} using (customer_key)" for _, key, _, _ in TIMELINE)
    return f"""
        with keys as (
            select customer_key from customer_360 union select customer_key from dim_customer
        ),
        profiles as (
            select customer_key, to_json({_struct(SERVED["customer_360"])}) as body
            from customer_360
        ),
        versions as (
            select customer_key,
                   to_json(list({_struct(SERVED["dim_customer"], without=("customer_key",))}
                                order by valid_from, customer_version_id)) as items
            from dim_customer group by customer_key
        ),
        {timeline_ctes}
        select
            keys.customer_key,
            encode(profiles.body::varchar) as profile,
            encode('{{"customer_key":' || keys.customer_key || ',"versions":'
                   || coalesce(versions.items::varchar, '[]') || '}}') as history,
            case when profiles.body is not null then
                encode('{{"customer_key":' || keys.customer_key || ',' || {timeline_json} || '}}')
            end as timeline
        from keys
        left join profiles using (customer_key)
        left join versions using (customer_key)
        {timeline_joins}
        order by keys.customer_key
    """


def _split(kind: str, column: str, prefix: str = "") -> str:
    return f"""
        select '{kind}' as kind, {prefix}unnest(string_split("{column}", ',')) as value,
               customer_key
        from customer_360 where "{column}" is not null and "{column}" <> ''
    """


IDENTIFIERS_SQL = f"""
    select distinct kind, value, customer_key from (
        {_split("email", "emails")}
        union all select 'email', email, customer_key from customer_360 where email is not null
        union all {_split("phone", "phones")}
        union all select 'phone', phone, customer_key from customer_360 where phone is not null
        union all {_split("source", "source_ids")}
        union all {_split("source", "device_ids", prefix=f"'{CLICKSTREAM}:' || ")}
    )
    where value <> ''
    order by kind, value, customer_key
"""
