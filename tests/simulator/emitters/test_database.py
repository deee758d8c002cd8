"""Source databases: the CRM's rows round-trip through SQLite, MariaDB and PostgreSQL, and a
day's changes (upserts, deletes, a new column) land as one transaction."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from c360.settings import Settings
from simulator.context import DayContext
from simulator.emitters.database import (
    SourceUnavailableError,
    apply_changes,
    connect,
    read_rows,
    replace_rows,
)
from simulator.population import generate_people
from simulator.sources import crm

# Above 10k, a single-precision FLOAT column would hand back 29366.9.
LARGE_VALUE = 29_366.92
NO_EVENTS = pl.DataFrame(schema={"person_id": pl.String, "event": pl.String})


@pytest.fixture
def customers(make_settings: Callable[..., Settings]) -> pl.DataFrame:
    """The CRM's day-0 customers as the simulator makes them, one with a large lifetime value."""
    ctx = DayContext(0, make_settings(seed=5), generate_people(300, seed=5), NO_EVENTS)
    frame = crm.initial_customers(ctx).drop("person_id")
    return frame.with_columns(
        lifetime_value=pl.when(pl.col("customer_id") == "C00000001")
        .then(LARGE_VALUE)
        .otherwise(pl.col("lifetime_value"))
    )


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mariadb", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty source database on each backend."""
    if request.param == "mariadb":
        url = request.getfixturevalue("mysql_url")
    elif request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path}/sources/crm.db"
    engine = connect(url)
    yield engine
    engine.dispose()


def _as_stored(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` as a source database holds it: naive UTC timestamps."""
    return frame.with_columns(pl.col("updated_at").dt.replace_time_zone(None))


def _live_columns(engine: Engine) -> list[str]:
    return [c["name"] for c in sa.inspect(engine).get_columns(crm.CUSTOMERS.name)]


def _live_rows(engine: Engine) -> pl.DataFrame:
    """Every row of the live table, with columns the declared table does not know."""
    live = sa.Table(crm.CUSTOMERS.name, sa.MetaData(), autoload_with=engine)
    return read_rows(engine, live)


def test_rows_round_trip(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers)

    back = read_rows(engine, crm.CUSTOMERS)

    assert back.schema == _as_stored(customers).schema
    assert back.equals(_as_stored(customers))
    assert back.filter(pl.col("customer_id") == "C00000001")["lifetime_value"].item() == (
        LARGE_VALUE
    )
    # Microseconds survive (MySQL's DATETIME keeps none unless declared with fsp=6).
    assert (back["updated_at"].dt.microsecond() != 0).sum() > 0
    assert back["street"].null_count() == 0


def test_replace_rows_replaces_the_table(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers)
    fewer = customers.tail(10).with_columns(email=pl.lit("new@example.com"))

    replace_rows(engine, crm.CUSTOMERS, fewer)

    assert read_rows(engine, crm.CUSTOMERS).equals(_as_stored(fewer))


def test_replace_rows_recreates_a_drifted_table_as_declared(
    engine: Engine, customers: pl.DataFrame
) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers)
    apply_changes(
        engine,
        crm.CUSTOMERS,
        customers.head(1).with_columns(pl.lit("gold").alias(crm.DRIFT_COLUMN)),
        pl.Series("customer_id", [], pl.String),
        [crm.DRIFT_COLUMN],
    )

    replace_rows(engine, crm.CUSTOMERS, customers)

    assert _live_columns(engine) == crm.COLUMNS
    assert read_rows(engine, crm.CUSTOMERS).equals(_as_stored(customers))


def test_read_rows_orders_by_primary_key(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers.reverse())

    back = read_rows(engine, crm.CUSTOMERS)

    assert back["customer_id"].to_list() == sorted(customers["customer_id"])


def test_apply_changes_upserts_and_deletes(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers)
    changed = customers.filter(pl.col("customer_id").is_in(["C00000002", "C00000003"]))
    updated = changed.with_columns(
        email=pl.lit("moved@example.com"), updated_at=pl.col("updated_at") + timedelta(days=1)
    )
    inserted = customers.head(1).with_columns(customer_id=pl.lit("C90000001"))
    deletes = pl.Series("customer_id", ["C00000004", "C00000005"])

    apply_changes(engine, crm.CUSTOMERS, pl.concat([updated, inserted]), deletes)

    expected = (
        pl.concat(
            [
                customers.filter(~pl.col("customer_id").is_in([*changed["customer_id"], *deletes])),
                updated,
                inserted,
            ]
        )
        .sort("customer_id")
        .pipe(_as_stored)
    )
    assert read_rows(engine, crm.CUSTOMERS).equals(expected)


def test_apply_changes_twice_is_the_same_as_once(engine: Engine, customers: pl.DataFrame) -> None:
    """A day re-emitted after a crash must leave the table as one emission would."""
    replace_rows(engine, crm.CUSTOMERS, customers)
    upserts = customers.head(3).with_columns(lifetime_value=pl.col("lifetime_value") + 1)
    deletes = pl.Series("customer_id", ["C00000010"])
    apply_changes(engine, crm.CUSTOMERS, upserts, deletes)
    once = read_rows(engine, crm.CUSTOMERS)

    apply_changes(engine, crm.CUSTOMERS, upserts, deletes)

    assert read_rows(engine, crm.CUSTOMERS).equals(once)
    assert once.height == customers.height - 1


def test_apply_changes_adds_a_new_column_once(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers)
    upserts = customers.head(2).with_columns(
        pl.Series(crm.DRIFT_COLUMN, ["gold", "bronze"], pl.String)
    )
    no_deletes = pl.Series("customer_id", [], pl.String)

    apply_changes(engine, crm.CUSTOMERS, upserts, no_deletes, [crm.DRIFT_COLUMN])
    apply_changes(engine, crm.CUSTOMERS, upserts, no_deletes, [crm.DRIFT_COLUMN])
    # Later changes without the column still land; the new column stays empty for them.
    later = customers.slice(2, 1).with_columns(email=pl.lit("later@example.com"))
    apply_changes(engine, crm.CUSTOMERS, later, no_deletes)

    assert _live_columns(engine) == [*crm.COLUMNS, crm.DRIFT_COLUMN]
    live = _live_rows(engine)
    assert live.height == customers.height
    tiers = dict(zip(live["customer_id"], live[crm.DRIFT_COLUMN], strict=True))
    assert [tiers[i] for i in ("C00000001", "C00000002", "C00000003")] == ["gold", "bronze", None]
    assert live.filter(pl.col(crm.DRIFT_COLUMN).is_not_null()).height == 2
    # Readers of the declared table are not disturbed by the new column.
    assert read_rows(engine, crm.CUSTOMERS).columns == crm.COLUMNS


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # psycopg2's message spans lines: the error must still be one.
        ("postgresql+psycopg2://c360:secret@127.0.0.1:{port}/orders", "c360:***@127.0.0.1"),
        ("mysql+pymysql://root:secret@127.0.0.1:{port}/crm", "root:***@127.0.0.1"),
    ],
)
def test_unreachable_server_is_one_clear_line(url: str, shown: str) -> None:
    with pytest.raises(SourceUnavailableError) as caught:
        connect(url.format(port=_closed_port()))

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot reach source database")
    assert shown in message
    assert "secret" not in message
    assert message.endswith("Start it or fix the URL.")


def test_sqlite_in_a_folder_that_cannot_exist_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")

    with pytest.raises(SourceUnavailableError) as caught:
        connect(f"sqlite:///{blocker}/crm.db")

    assert "\n" not in str(caught.value)
    assert str(blocker) in str(caught.value)
