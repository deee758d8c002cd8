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

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from c360.settings import load_settings
from catalog.duckdb_scan import is_remote, load_extensions, s3_secret_sql
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
        remote = any(is_remote(location) for location in self._metadata.values())
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
