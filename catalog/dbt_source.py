"""dbt-duckdb plugin: dbt's `lakehouse` sources are views over the staging Iceberg tables.

Declared in `dbt/profiles.yml` (`module: catalog.dbt_source`). When dbt opens its DuckDB
database, each staging table becomes a view `lakehouse_staging.<table>` over
`iceberg_scan()` of the table's current metadata file. A build then reads the tables'
Parquet files in place, only the columns and row groups its queries need, instead of
copying every table into DuckDB first (what dbt-duckdb's own iceberg plugin does). The
metadata files are looked up once, when dbt starts, so every model of one build reads the
same snapshots.

The plugin's `sources: copy` setting copies each table into DuckDB instead, as dbt-duckdb's
iceberg plugin does; `bench/workloads/dbt_sources.py` times the two.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from c360.settings import S3Settings, load_settings
from catalog.factory import open_catalog
from catalog.tables import staging

SOURCE_SCHEMA = "lakehouse_staging"
# The plugin's `sources` setting -> what each source becomes in DuckDB.
SOURCE_KINDS = {"view": "view", "copy": "table"}


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        mode = plugin_config.get("sources", "view")
        if mode not in SOURCE_KINDS:
            raise ValueError(f"lakehouse plugin: `sources: {mode}` is not one of view, copy")
        self._kind = SOURCE_KINDS[mode]
        settings = load_settings()
        catalog = open_catalog(settings)
        self._metadata = {
            table.name: catalog.load_table(table.identifier_name).metadata_location
            for table in staging.TABLES
        }
        self._s3 = settings.resolved_catalog().s3

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        remote = any(not location.startswith("file:") for location in self._metadata.values())
        load_extensions(conn, ("avro", "iceberg", *(("httpfs",) if remote else ())))
        if remote:
            conn.execute(s3_secret_sql(self._s3))
        # The schema holds only the sources: rebuilt whole, it never keeps a stale one.
        conn.execute(f"drop schema if exists {SOURCE_SCHEMA} cascade")
        conn.execute(f"create schema {SOURCE_SCHEMA}")
        for name, location in self._metadata.items():
            conn.execute(
                f"create {self._kind} {SOURCE_SCHEMA}.{name} as "
                f"select * from iceberg_scan('{location}')"
            )


def load_extensions(conn: DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """Load DuckDB extensions from their PyPI packages (`duckdb-extension-<name>`), which
    work offline where DuckDB's own extension download cannot."""
    for name in names:
        package = importlib.import_module(f"duckdb_extension_{name}")
        binary = next(Path(package.__path__[0]).glob(f"extensions/*/{name}.duckdb_extension"))
        conn.execute(f"load '{binary}'")


def s3_secret_sql(s3: S3Settings) -> str:
    """A DuckDB secret giving `iceberg_scan` the warehouse's S3 endpoint and credentials."""
    options = {"type": "s3", "region": f"'{s3.region or 'us-east-1'}'"}
    if s3.access_key_id and s3.secret_access_key:
        options |= {"key_id": f"'{s3.access_key_id}'", "secret": f"'{s3.secret_access_key}'"}
    if s3.endpoint:
        scheme, _, host = s3.endpoint.partition("://")
        options |= {"endpoint": f"'{host}'", "use_ssl": str(scheme == "https").lower()}
        options["url_style"] = "'path'"
    body = ", ".join(f"{key} {value}" for key, value in options.items())
    return f"create or replace temporary secret c360_warehouse ({body})"
