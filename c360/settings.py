"""The one typed settings module: every knob c360 has, read from `C360_*` variables.

Profiles (`local`, `stack`, `cloud`) are data: each is a set of defaults for where the
catalog, warehouse and sources live. Explicit settings always win over a profile's defaults.
Nothing else in the code base reads `os.environ`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
CATALOG_NAME = "c360"


class ProfileName(StrEnum):
    LOCAL = "local"
    STACK = "stack"
    CLOUD = "cloud"


class Scale(StrEnum):
    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


# People in the simulated world per scale preset; every source's volume derives from this.
SCALE_PEOPLE: dict[Scale, int] = {
    Scale.TINY: 1_000,
    Scale.SMALL: 20_000,
    Scale.MEDIUM: 200_000,
    Scale.LARGE: 1_000_000,
}


class S3Settings(BaseModel):
    """Object-store endpoint and credentials; empty fields fall back to the AWS default chain."""

    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str | None = None


class CatalogSettings(BaseModel):
    """Where the Iceberg catalog and warehouse live. `{home}` expands to `C360_HOME`.

    `uri` is the SQLAlchemy URL for `sql`, the server for `rest`, and the Glue endpoint for
    `glue` (empty: AWS's own; set it for an emulator or a VPC endpoint). Glue calls use the
    `s3` credentials and region. A `rest` catalog's requests are AWS SigV4-signed with those
    too, but only when `sigv4_service` names the service to sign for (`s3tables` for S3
    Tables and SeaweedFS, whose `warehouse` is `s3://<table-bucket>`).
    """

    type: Literal["sql", "rest", "glue"] = "sql"
    uri: str | None = None
    warehouse: str | None = None
    sigv4_service: str | None = None
    s3: S3Settings = Field(default_factory=S3Settings)


class SourceSettings(BaseModel):
    """Where the simulated source systems live. `{home}` expands to `C360_HOME`.

    `landing` is a folder or an `s3://bucket/prefix` URL (file drops and tickets);
    `stream` is `embedded` (a durable log under `$C360_HOME/sources/stream`) or `kinesis`
    (the Kinesis API at `stream_endpoint`, or AWS when unset). `capture_overlap_minutes`
    is how far before its watermark a database capture re-reads: the longest a source row
    may commit after the `updated_at` it carries (the simulator's `clock_skew` is 3 hours).
    """

    crm_url: str | None = None
    orders_url: str | None = None
    landing: str | None = None
    stream: Literal["embedded", "kinesis"] | None = None
    stream_name: str = "c360-clickstream"
    stream_endpoint: str | None = None
    stream_shards: int = 2
    capture_overlap_minutes: int = 240


class SnowflakeSettings(BaseModel):
    """The dbt `prod` target's Snowflake account (`C360_SNOWFLAKE__*`).

    Sign in with `password`, or with a key pair when `private_key_path` is set (and
    `private_key_passphrase` if the key is encrypted). `host`, `port` and `protocol` reach
    an emulator or a private endpoint; unset, the account's own endpoint is used.
    """

    account: str | None = None
    user: str | None = None
    password: str | None = None
    private_key_path: str | None = None
    private_key_passphrase: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str = "C360"
    host: str | None = None
    port: int = 443
    protocol: Literal["https", "http"] = "https"


FAULTS = ("schema_drift", "malformed_files", "null_keys", "duplicate_keys", "clock_skew")


class SimulatorSettings(BaseModel):
    """Noise rates (always on, realistic) and injected faults (off unless named)."""

    faults: list[Literal[FAULTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    fault_day: int = 1
    typo_rate: float = 0.02
    duplicate_customer_rate: float = 0.03
    late_event_rate: float = 0.02
    duplicate_event_rate: float = 0.01
    out_of_order_rate: float = 0.05


class MaintenanceSettings(BaseModel):
    """Table maintenance (`c360 maintain`, the daily `c360-maintenance` flow).

    Snapshots older than `snapshot_retention_days` are expired, except the
    `keep_last_snapshots` newest of each table (and those readers resume from); a batch
    committed in an expired snapshot is no longer recognised by the writer, so retry a
    failed run within the retention. Files no retained snapshot needs are deleted once
    older than `orphan_grace_minutes` (younger ones may belong to a write in flight). A
    table with `compact_min_files` data files under `compact_target_mb` has them rewritten
    into files of about that size.
    """

    snapshot_retention_days: float = Field(default=7, ge=0)
    keep_last_snapshots: int = Field(default=10, ge=1)
    orphan_grace_minutes: float = Field(default=60, ge=0)
    compact_min_files: int = Field(default=10, ge=2)
    compact_target_mb: float = Field(default=128, gt=0)


class ApiSettings(BaseModel):
    """The customer lookup API (`c360 serve`, `api/`).

    `key`: when set, the customer endpoints need it in the `X-API-Key` header. The API reads
    the serving copy at `serving_path` (default `$C360_HOME/serving/customers.sqlite`),
    which publishing rebuilds; with `serving_uri` (`s3://bucket/key`, on the catalog's
    object store) publishing also uploads it there, and the Lambda handler downloads it
    from there when the file is missing (a cold start). `timeline_limit`: how many of a
    customer's newest orders, sessions and tickets the copy keeps for the timeline.
    """

    key: SecretStr | None = None
    serving_path: Path | None = None
    serving_uri: str | None = None
    timeline_limit: int = Field(default=20, ge=1, le=1000)


class AlertSettings(BaseModel):
    """Where alerts go and what the cost rule allows (`C360_ALERTS__*`, `flows/observe/`).

    Every alert raised or resolved is logged; it is also appended to `jsonl_path` (default
    `$C360_HOME/alerts/alerts.jsonl`) and, when `webhook_url` is set, POSTed there as JSON.
    A run writing more than `max_bytes_written` or scanning more than `max_bytes_scanned`
    (the cost proxy) raises a cost alert.
    """

    jsonl_path: Path | None = None
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(default=5, gt=0)
    max_bytes_written: int = Field(default=10 * 2**30, ge=0)
    max_bytes_scanned: int = Field(default=50 * 2**30, ge=0)


class Profile(BaseModel):
    """A named set of defaults: one deployment shape of the same code."""

    description: str
    catalog: CatalogSettings
    sources: SourceSettings


PROFILES: dict[ProfileName, Profile] = {
    ProfileName.LOCAL: Profile(
        description="embedded: SQLite catalog, local-disk warehouse and sources; no services",
        catalog=CatalogSettings(
            type="sql",
            uri="sqlite:///{home}/catalog.db",
            warehouse="file://{home}/warehouse",
        ),
        sources=SourceSettings(
            crm_url="sqlite:///{home}/sources/crm.db",
            orders_url="sqlite:///{home}/sources/orders.db",
            landing="{home}/sources/landing",
            stream="embedded",
        ),
    ),
    ProfileName.STACK: Profile(
        description="docker compose services: PostgreSQL catalog, MinIO warehouse, MySQL CRM",
        catalog=CatalogSettings(
            type="sql",
            uri="postgresql+psycopg2://c360:c360@127.0.0.1:5432/iceberg",
            warehouse="s3://c360-lakehouse/warehouse",
            s3=S3Settings(
                endpoint="http://127.0.0.1:9000",
                access_key_id="minioadmin",
                secret_access_key="minioadmin",
                region="us-east-1",
            ),
        ),
        sources=SourceSettings(
            crm_url="mysql+pymysql://root:c360@127.0.0.1:3306/crm",
            orders_url="postgresql+psycopg2://c360:c360@127.0.0.1:5432/orders",
            landing="s3://c360-landing/drops",
            stream="kinesis",
            stream_endpoint="http://127.0.0.1:4566",
        ),
    ),
    ProfileName.CLOUD: Profile(
        description="AWS: Glue catalog, S3 warehouse, sources over the network; Snowflake for dbt",
        catalog=CatalogSettings(
            type="glue",
            warehouse="s3://customer360-lakehouse/warehouse",
            s3=S3Settings(region="us-east-1"),
        ),
        sources=SourceSettings(landing="s3://customer360-landing/drops", stream="kinesis"),
    ),
}


class Settings(BaseSettings):
    """All of c360's settings. Nested fields use `__`, e.g. `C360_CATALOG__URI`."""

    model_config = SettingsConfigDict(
        env_prefix="C360_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    home: Path = REPO_ROOT / "lakehouse"
    profile: ProfileName = ProfileName.LOCAL
    seed: int = 42
    scale: Scale = Scale.SMALL
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    sources: SourceSettings = Field(default_factory=SourceSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    dbt_target: str = "dev"
    snowflake: SnowflakeSettings = Field(default_factory=SnowflakeSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    # The staging engine: polars (default), duckdb, or spark (the `spark` extra and Java 17).
    engine: Literal["polars", "duckdb", "spark"] = "polars"
    # Where the data contracts are read from; empty: the ones shipped in catalog/contracts/.
    contracts_dir: Path | None = None
    # A Prefect server to send runs to; unset: each run starts a temporary one.
    prefect_api_url: str | None = None
    # The Prefect server's database (`postgresql+asyncpg://...`); unset: SQLite in prefect_home.
    prefect_database_url: str | None = None
    run_id: str | None = None

    def resolved_catalog(self) -> CatalogSettings:
        """The catalog settings in force: explicit values over the profile's defaults."""
        base = PROFILES[self.profile].catalog
        explicit = self.catalog.model_dump(exclude_unset=True)
        s3 = base.s3.model_copy(update=explicit.pop("s3", {}))
        merged = base.model_copy(update={**explicit, "s3": s3})
        return merged.model_copy(
            update={"uri": self._expand(merged.uri), "warehouse": self._expand(merged.warehouse)}
        )

    def resolved_sources(self) -> SourceSettings:
        """The source locations in force: explicit values over the profile's defaults."""
        merged = PROFILES[self.profile].sources.model_copy(
            update=self.sources.model_dump(exclude_unset=True)
        )
        return merged.model_copy(
            update={
                k: self._expand(v) for k, v in merged.model_dump().items() if isinstance(v, str)
            }
        )

    @property
    def people(self) -> int:
        return SCALE_PEOPLE[self.scale]

    @property
    def sources_dir(self) -> Path:
        return self.home / "sources"

    @property
    def dbt_dir(self) -> Path:
        return self.home / "dbt"

    @property
    def dbt_database(self) -> Path:
        """The dev target's DuckDB file (`dbt/profiles.yml`)."""
        return self.dbt_dir / "c360.duckdb"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def alerts_jsonl(self) -> Path:
        return self.alerts.jsonl_path or self.home / "alerts" / "alerts.jsonl"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def _expand(self, value: str | None) -> str | None:
        return None if value is None else value.replace("{home}", str(self.home.resolve()))


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and `.env`), with explicit overrides applied on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    """`settings` as `C360_*` variables: what a child process (dbt, a Prefect worker) needs
    to load the very same settings."""
    env: dict[str, str] = {}

    def flatten(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                flatten(f"{prefix}__{key.upper()}", item)
        elif isinstance(value, list):
            env[prefix] = json.dumps(value)  # pydantic-settings reads lists as JSON
        elif value is not None:
            env[prefix] = str(value)

    # Only what was set explicitly: a default written out would override a profile's.
    for key, value in settings.model_dump(mode="json", exclude_unset=True).items():
        flatten(f"C360_{key.upper()}", value)
    env |= {
        "C360_HOME": str(settings.home.resolve()),
        "C360_PROFILE": settings.profile.value,
        "C360_DBT_TARGET": settings.dbt_target,
    }
    # Written out with their defaults: dbt/profiles.yml reads the prod target from them.
    for key, value in settings.snowflake.model_dump(mode="json", exclude_none=True).items():
        env[f"C360_SNOWFLAKE__{key.upper()}"] = str(value)
    return env


def prefect_env(settings: Settings) -> dict[str, str]:
    """Prefect's own settings for a c360 process: state under C360_HOME, no telemetry."""
    env = {
        "PREFECT_HOME": str(settings.prefect_home),
        # Telemetry from the temporary server caused "database is locked" errors offline.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
    }
    if settings.prefect_api_url:
        env["PREFECT_API_URL"] = settings.prefect_api_url
    if settings.prefect_database_url:
        # Read by `c360 ui` and by a run's temporary server alike.
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = settings.prefect_database_url
    return env
