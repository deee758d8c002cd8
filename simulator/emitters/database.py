"""Operational databases (the CRM's MySQL, the orders' PostgreSQL), reached by SQLAlchemy URL.

The embedded default is a SQLite file; the same code writes to MySQL/MariaDB and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

INSERT_CHUNK = 10_000


class SourceUnavailableError(RuntimeError):
    """A source database cannot be reached; the message says which and what to do."""


def connect(url: str) -> Engine:
    """An engine for `url`, creating the SQLite file's folder when embedded.

    Raises:
        SourceUnavailableError: the database server does not answer.
    """
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceUnavailableError(
                f"cannot create the folder {folder} for source database {url}: "
                f"{exc.strerror}. Fix the URL."
            ) from exc
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        safe = engine.url.render_as_string(hide_password=True)
        # Driver messages span lines (psycopg2 adds a hint line); the error must stay one line.
        reason = " ".join(str(exc.orig).split())
        raise SourceUnavailableError(
            f"cannot reach source database {safe}: {reason}. Start it or fix the URL."
        ) from exc
    return engine


def _naive_rows(frame: pl.DataFrame, columns: list[str]) -> list[dict[str, object]]:
    # Source databases store naive UTC (DATETIME has no zone in MySQL or SQLite).
    naive = frame.select(columns).with_columns(
        pl.col(pl.Datetime(time_zone="UTC")).dt.replace_time_zone(None)
    )
    return naive.to_dicts()


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        conn.execute(table.insert(), rows[start : start + INSERT_CHUNK])


def replace_rows(engine: Engine, table: sa.Table, frame: pl.DataFrame) -> None:
    """Recreate `table` as declared and fill it with exactly `frame`'s rows."""
    rows = _naive_rows(frame, [c.name for c in table.columns])
    table.drop(engine, checkfirst=True)
    table.create(engine)
    with engine.begin() as conn:
        _insert(conn, table, rows)


def apply_changes(
    engine: Engine,
    table: sa.Table,
    upserts: pl.DataFrame,
    deletes: pl.Series,
    new_columns: list[str] | None = None,
) -> None:
    """Insert or replace `upserts` and delete the `deletes` keys, in one transaction.

    Args:
        new_columns: string columns of `upserts` the live table lacks yet; they are added
            first (a source's schema drift).
    """
    (key,) = table.primary_key.columns
    live = sa.Table(table.name, sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        for column in new_columns or []:
            if column not in live.columns:
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column} VARCHAR(32)"))
        live = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
        gone = [*upserts[key.name].to_list(), *deletes.to_list()]
        for start in range(0, len(gone), INSERT_CHUNK):
            conn.execute(
                live.delete().where(live.c[key.name].in_(gone[start : start + INSERT_CHUNK]))
            )
        _insert(conn, live, _naive_rows(upserts, upserts.columns))


def read_rows(engine: Engine, table: sa.Table) -> pl.DataFrame:
    """Every row of `table`, ordered by its primary key."""
    query = sa.select(table).order_by(*table.primary_key.columns)
    with engine.connect() as conn:
        result = conn.execute(query)
        return pl.DataFrame(
            [tuple(r) for r in result],
            schema=list(result.keys()),
            orient="row",
            infer_schema_length=None,
        )
