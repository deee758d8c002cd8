"""`c360 ui`: the Prefect server and its UI, on SQLite by default or on PostgreSQL when
`C360_PREFECT_DATABASE_URL` says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from c360.settings import Settings, prefect_env
from tests.prefect_server import running_prefect_server


def test_the_prefect_database_setting_reaches_prefect(
    make_settings: Callable[..., Settings],
) -> None:
    url = "postgresql+asyncpg://prefect@db.internal:5432/prefect"
    default = make_settings()
    on_postgres = make_settings(prefect_database_url=url)

    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in prefect_env(default)
    assert prefect_env(on_postgres)["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == url


@pytest.mark.integration
def test_ui_keeps_prefect_state_in_postgresql_when_set(postgres_url: str, tmp_path: Path) -> None:
    # Prefect's server talks to PostgreSQL through asyncpg.
    database = make_url(postgres_url).set(drivername="postgresql+asyncpg")
    env = {"C360_PREFECT_DATABASE_URL": database.render_as_string(hide_password=False)}

    with running_prefect_server(tmp_path, env) as server:
        flow = httpx.post(f"{server.api_url}/flows/", json={"name": "c360-on-postgres"})
        flow.raise_for_status()
        created = httpx.post(
            f"{server.api_url}/flow_runs/",
            json={"flow_id": flow.json()["id"], "name": "first-run"},
        )
        created.raise_for_status()
        listed = httpx.post(f"{server.api_url}/flow_runs/filter", json={})
        listed.raise_for_status()

    assert [run["name"] for run in listed.json()] == ["first-run"]
    # The run is in PostgreSQL, and no SQLite database was made in the home.
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT f.name, r.name FROM flow_run r JOIN flow f ON f.id = r.flow_id")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("c360-on-postgres", "first-run")]
    assert not list(tmp_path.rglob("*.db"))
    assert f"state in {database.render_as_string(hide_password=True)})" in server.log.read_text()
