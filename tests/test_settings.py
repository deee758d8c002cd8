"""Settings: profile defaults, `{home}` expansion, and explicit values winning over profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.settings import (
    CatalogSettings,
    ProfileName,
    S3Settings,
    Settings,
    SnowflakeSettings,
    load_settings,
    settings_env,
)
from catalog.factory import catalog_properties


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory, so a developer's `.env` is not read."""
    monkeypatch.chdir(tmp_path)


def test_local_profile_expands_home_everywhere(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    home = tmp_path.resolve()

    catalog = settings.resolved_catalog()
    sources = settings.resolved_sources()

    assert settings.profile is ProfileName.LOCAL
    assert (catalog.type, catalog.uri, catalog.warehouse) == (
        "sql",
        f"sqlite:///{home}/catalog.db",
        f"file://{home}/warehouse",
    )
    assert sources.crm_url == f"sqlite:///{home}/sources/crm.db"
    assert sources.orders_url == f"sqlite:///{home}/sources/orders.db"
    assert sources.landing == f"{home}/sources/landing"
    assert catalog_properties(catalog) == {
        "type": "sql",
        "uri": f"sqlite:///{home}/catalog.db",
        "warehouse": f"file://{home}/warehouse",
    }


def test_home_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_HOME", str(tmp_path / "lake"))

    settings = Settings()

    assert settings.home == tmp_path / "lake"
    assert settings.resolved_catalog().uri == f"sqlite:///{tmp_path.resolve()}/lake/catalog.db"


def test_catalog_uri_from_the_environment_wins_over_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_CATALOG__URI", "postgresql+psycopg2://me@db.internal:5432/iceberg")

    catalog = load_settings(home=tmp_path).resolved_catalog()

    assert catalog.uri == "postgresql+psycopg2://me@db.internal:5432/iceberg"
    # Everything not set explicitly still comes from the profile.
    assert catalog.type == "sql"
    assert catalog.warehouse == f"file://{tmp_path.resolve()}/warehouse"


def test_nested_s3_variable_overrides_one_field_of_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_PROFILE", "stack")
    monkeypatch.setenv("C360_CATALOG__S3__ENDPOINT", "http://127.0.0.1:8333")
    monkeypatch.setenv("C360_CATALOG__WAREHOUSE", "s3://elsewhere/{home}")

    catalog = load_settings(home=tmp_path).resolved_catalog()

    assert catalog.s3.endpoint == "http://127.0.0.1:8333"
    assert (catalog.s3.access_key_id, catalog.s3.secret_access_key, catalog.s3.region) == (
        "minioadmin",
        "minioadmin",
        "us-east-1",
    )
    assert catalog.warehouse == f"s3://elsewhere/{tmp_path.resolve()}"
    assert catalog.uri == "postgresql+psycopg2://c360:c360@127.0.0.1:5432/iceberg"


def test_stack_profile_points_at_postgresql_and_s3(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, profile="stack")  # what `--profile stack` passes

    props = catalog_properties(settings.resolved_catalog())
    sources = settings.resolved_sources()

    assert props == {
        "type": "sql",
        "uri": "postgresql+psycopg2://c360:c360@127.0.0.1:5432/iceberg",
        "warehouse": "s3://c360-lakehouse/warehouse",
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.access-key-id": "minioadmin",
        "s3.secret-access-key": "minioadmin",
        "s3.region": "us-east-1",
    }
    assert sources.crm_url is not None
    assert sources.crm_url.startswith("mysql+pymysql://")
    assert sources.landing == "s3://c360-landing/drops"


def test_explicit_profile_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_PROFILE", "stack")

    settings = load_settings(home=tmp_path, profile="local")

    assert settings.profile is ProfileName.LOCAL
    assert settings.resolved_catalog().uri == f"sqlite:///{tmp_path.resolve()}/catalog.db"


def test_cloud_profile_uses_glue_in_the_s3_region(tmp_path: Path) -> None:
    catalog = load_settings(home=tmp_path, profile="cloud").resolved_catalog()

    assert catalog_properties(catalog) == {
        "type": "glue",
        "warehouse": "s3://customer360-lakehouse/warehouse",
        "s3.region": "us-east-1",
        "glue.region": "us-east-1",
    }


def test_settings_env_loads_back_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        home=tmp_path,
        scale="tiny",
        simulator={"faults": ["null_keys", "duplicate_keys"], "fault_day": 1},
        catalog=CatalogSettings(s3=S3Settings(region="eu-west-1")),
        snowflake=SnowflakeSettings(account="acme-eu1", user="c360_loader", port=8443),
    )
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)

    assert load_settings() == settings
