"""Source databases: the CRM's rows round-trip through SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from simulator import crm
from simulator.emitters.database import SourceUnavailableError, connect, read_rows, replace_rows
from simulator.population import generate_people

# Above 10k, a single-precision FLOAT column would hand back 29366.9.
LARGE_VALUE = 29_366.92


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    """The CRM's customers as the simulator makes them, one with a large lifetime value."""
    frame = crm.crm_customers(generate_people(300, seed=5), seed=5).drop("person_id")
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


def test_replace_rows_replaces_the_table(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers)
    fewer = customers.tail(10).with_columns(email=pl.lit("new@example.com"))

    replace_rows(engine, crm.CUSTOMERS, fewer)

    assert read_rows(engine, crm.CUSTOMERS).equals(_as_stored(fewer))


def test_read_rows_orders_by_primary_key(engine: Engine, customers: pl.DataFrame) -> None:
    replace_rows(engine, crm.CUSTOMERS, customers.reverse())

    back = read_rows(engine, crm.CUSTOMERS)

    assert back["customer_id"].to_list() == sorted(customers["customer_id"])


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
