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


def replace_rows(engine: Engine, table: sa.Table, frame: pl.DataFrame) -> None:
    """Make `table` hold exactly `frame`'s rows (created if missing), in one transaction."""
    # Source databases store naive UTC (DATETIME has no zone in MySQL or SQLite).
    naive = frame.select([c.name for c in table.columns]).with_columns(
        pl.col(pl.Datetime(time_zone="UTC")).dt.replace_time_zone(None)
    )
    rows = naive.to_dicts()
    table.metadata.create_all(engine, tables=[table])
    with engine.begin() as conn:
        conn.execute(table.delete())
        for start in range(0, len(rows), INSERT_CHUNK):
            conn.execute(table.insert(), rows[start : start + INSERT_CHUNK])


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
