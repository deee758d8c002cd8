"""Prod parity: `dbt build --target prod` (Snowflake; here the fakesnow server) builds the
same marts as the dev target (DuckDB), value for value.

A `tiny` world lives two simulated days. Each day the pipeline runs up to identity
resolution and the dev build, then the day's staging tables are loaded into fakesnow
through the Snowflake connector (catalog/snowflake_load.py, the prod loading path) and the
prod build runs with the same variables: the second day's snapshot merges changes into the
first day's, as in production. The marts of both targets are compared after each day.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from snowflake.connector import SnowflakeConnection
from snowflake.connector.constants import FIELD_ID_TO_NAME

from c360.settings import Settings, load_settings, settings_env
from catalog.factory import open_catalog
from flows.model import load_prod_sources, run_dbt
from flows.resolve import resolve_lakehouse
from simulator.world import simulate
from tests.dbt.fakesnow_server import running_fakesnow
from tests.flows.lakehouse_days import ingest_everything, stage_everything

pytestmark = pytest.mark.slow

DAYS = 2
DATABASE = "C360"
MARTS = (
    "customers",
    "dim_customer",
    "fct_orders",
    "fct_order_items",
    "fct_sessions",
    "fct_support_tickets",
    "customer_360",
)
# A failing query can leave the connector retrying for minutes: the build gets a deadline.
PROD_BUILD_TIMEOUT_S = 300
PROD_BUILD = (
    "from c360.settings import load_settings; from flows.model import run_dbt; "
    "run_dbt(load_settings(), ['build'])"
)
SNOWFLAKE_TIMESTAMPS = {"TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIMESTAMP_NTZ"}
FLOAT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Day:
    """Each mart as each target built it after one simulated day."""

    dev: dict[str, pl.DataFrame | None]  # None: the target built no such mart
    prod: dict[str, pl.DataFrame | None]


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Day]]:
    home = tmp_path_factory.mktemp("parity")
    # No C360_* variable from the shell reaches the pipeline, dbt or the prod build.
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)  # so a developer's `.env` in the repo is not read
        with running_fakesnow(home) as server, server.connect(DATABASE) as snowflake:
            snowflake.cursor().execute(f"create database if not exists {DATABASE}")
            settings = load_settings(
                home=home, scale="tiny", snowflake=server.snowflake_settings(DATABASE)
            )
            yield [_live_day(settings, snowflake, day) for day in range(DAYS)]


def _live_day(settings: Settings, snowflake: SnowflakeConnection, day: int) -> Day:
    catalog = open_catalog(settings)
    run_id = f"parity-day-{day}"
    simulate(settings, days=min(day, 1))
    ingest_everything(settings, catalog, run_id)
    stage_everything(settings, catalog, run_id)
    resolve_lakehouse(catalog, settings.sources_dir / "truth", run_id=run_id)
    run_dbt(settings, ["build"])
    with duckdb.connect(str(settings.dbt_dir / "c360.duckdb"), read_only=True) as db:
        dev = {name: _dev_mart(db, name) for name in MARTS}
    load_prod_sources(settings)
    _build_prod(settings)
    return Day(dev, {name: _prod_mart(snowflake, name) for name in MARTS})


def _build_prod(settings: Settings) -> None:
    # Its own process, so a hung connector can be stopped at the deadline.
    env = {**os.environ, **settings_env(settings), "C360_DBT_TARGET": "prod"}
    try:
        built = subprocess.run(
            [sys.executable, "-c", PROD_BUILD],
            cwd=settings.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=PROD_BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"prod build not done in {PROD_BUILD_TIMEOUT_S} s")
    assert built.returncode == 0, f"prod build failed:\n{built.stdout[-5000:]}{built.stderr}"


def _dev_mart(db: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame | None:
    exists = db.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = ?",
        [name],
    ).fetchone()
    return db.sql(f"select * from marts.{name}").pl() if exists and exists[0] else None


def _prod_mart(snowflake: SnowflakeConnection, name: str) -> pl.DataFrame | None:
    table = f"{DATABASE}.MARTS.{name.upper()}"
    with snowflake.cursor() as cursor:
        found = cursor.execute(f"show tables like '{name.upper()}' in schema {DATABASE}.MARTS")
        if found is None or not found.fetchall():
            return None
        cursor.execute(f"select * from {table} limit 0")
        columns = [(c.name, FIELD_ID_TO_NAME[c.type_code]) for c in cursor.description]
        # fakesnow returns a null timestamp as 1970-01-01: fetch instants as epoch numbers.
        selected = ", ".join(
            f'date_part(epoch_microsecond, "{c}") as "{c}"'
            if kind in SNOWFLAKE_TIMESTAMPS
            else f'"{c}"'
            for c, kind in columns
        )
        cursor.execute(f"select {selected} from {table}")
        frame = pl.from_arrow(cursor.fetch_arrow_all(force_return_table=True))
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(
        pl.from_epoch(c, "us").dt.replace_time_zone("UTC")
        for c, kind in columns
        if kind in SNOWFLAKE_TIMESTAMPS
    )


def normalised(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in a form both engines' values compare in: lower-case names, instants in
    UTC to the microsecond, every integer 64-bit, decimals at their scale, rows sorted."""

    def column(name: str, dtype: pl.DataType) -> pl.Expr:
        expr = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            in_utc = (
                expr.dt.replace_time_zone("UTC")
                if dtype.time_zone is None
                else expr.dt.convert_time_zone("UTC")
            )
            return in_utc.dt.cast_time_unit("us")
        if isinstance(dtype, pl.Decimal):
            return (
                expr.cast(pl.Int64) if dtype.scale == 0 else expr.cast(pl.Decimal(38, dtype.scale))
            )
        if dtype.is_integer():
            return expr.cast(pl.Int64)
        if dtype.is_float():
            return expr.cast(pl.Float64)
        return expr

    renamed = frame.rename(str.lower)
    return renamed.select(column(name, dtype) for name, dtype in renamed.schema.items()).sort(
        renamed.columns, nulls_last=True
    )


@pytest.mark.parametrize("mart", MARTS)
def test_the_prod_mart_equals_the_dev_mart_value_for_value(days: list[Day], mart: str) -> None:
    for day, built in enumerate(days):
        dev, prod = built.dev[mart], built.prod[mart]
        assert dev is not None, f"day {day}: dev built no marts.{mart}"
        assert prod is not None, f"day {day}: prod built no marts.{mart}"
        assert dev.height > 0, f"day {day}: marts.{mart} is empty"
        assert_frame_equal(
            normalised(prod),
            normalised(dev),
            check_exact=False,
            rel_tol=FLOAT_TOLERANCE,
            abs_tol=FLOAT_TOLERANCE,
        )


def test_the_second_day_merged_changes_into_the_prod_snapshot(days: list[Day]) -> None:
    dim_customer = days[-1].prod["dim_customer"]
    assert dim_customer is not None
    # Versions closed on the second day: the snapshot merge ran on fakesnow, not only the
    # first day's create.
    assert normalised(dim_customer).filter(~pl.col("is_current")).height > 0
