"""Iceberg tables read by DuckDB in place: `iceberg_scan()` of a snapshot, the Parquet
files read in parallel and only in the columns and row groups a query needs.

What the dbt plugin (`catalog/dbt_source.py`) gives dbt's models, and what the pipeline's
own steps use where they join millions of rows (`flows/resolve.py`): several times faster
than reading the table into Arrow through pyiceberg and handing that to DuckDB.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import duckdb
from duckdb import DuckDBPyConnection
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from c360.settings import S3Settings


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


def is_remote(location: str) -> bool:
    """Whether a table's metadata `location` is on object storage (not a local file)."""
    return not location.startswith("file:") and "://" in location


def connect_lakehouse(catalog: Catalog) -> DuckDBPyConnection:
    """An in-memory DuckDB that can `iceberg_scan` the catalog's tables, on local disk or
    on S3 (with the endpoint and credentials the catalog itself was given), in UTC."""
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    props = catalog.properties
    remote = is_remote(props.get("warehouse", "")) or any(k.startswith("s3.") for k in props)
    load_extensions(conn, ("avro", "iceberg", *(("httpfs",) if remote else ())))
    if remote:
        s3 = S3Settings(
            endpoint=props.get("s3.endpoint"),
            access_key_id=props.get("s3.access-key-id"),
            secret_access_key=props.get("s3.secret-access-key"),
            region=props.get("s3.region"),
        )
        conn.execute(s3_secret_sql(s3))
    return conn


def create_snapshot_view(
    conn: DuckDBPyConnection,
    name: str,
    table: Table,
    snapshot_id: int | None,
    columns: Sequence[str],
) -> None:
    """A view `name` of `columns` of `table` as it was at `snapshot_id` (None: before its
    first commit, so no rows)."""
    if snapshot_id is None:
        conn.register(f"{name}_empty", table.schema().select(*columns).as_arrow().empty_table())
        conn.execute(f"create or replace view {name} as select * from {name}_empty")
        return
    listed = ", ".join(f'"{c}"' for c in columns)
    conn.execute(
        f"create or replace view {name} as select {listed} from "
        f"iceberg_scan('{table.metadata_location}', snapshot_from_id = {int(snapshot_id)})"
    )
