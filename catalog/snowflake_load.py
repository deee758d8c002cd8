"""Loading the staging zone into Snowflake, where the prod dbt target reads its sources.

Each staging table becomes `<database>.LAKEHOUSE_STAGING.<TABLE>` (the schema the dbt
source `lakehouse` names), its columns typed from the table's declaration in
`catalog/tables/staging.py`. A load replaces the table: it is recreated, its rows written
as Parquet to the table's own stage (`PUT`) and copied in (`COPY INTO`), Snowflake's bulk
path. The same code loads the fakesnow server in the prod-parity test.

The prod model step (`c360 model --target prod`, and `c360 run` on that target) loads
staging this way, through `connect(settings.snowflake)`, before `dbt build`: the account's
role needs CREATE TABLE on the schema.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import snowflake.connector
from pyiceberg.catalog import Catalog
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
)
from snowflake.connector import SnowflakeConnection

from c360.settings import SnowflakeSettings
from catalog.reader import read_rows
from catalog.tables import staging
from catalog.tables.definition import TableDef

# The dbt source `lakehouse` (dbt/models/staging/_lakehouse__sources.yml) reads this schema.
SCHEMA = "LAKEHOUSE_STAGING"
# Snowflake loads Parquet files of 100-250 MB compressed fastest; a million rows of a
# staging table is about that.
ROWS_PER_FILE = 1_000_000


# A server error makes the connector retry for minutes: bound every call.
LOGIN_TIMEOUT_S = 60
NETWORK_TIMEOUT_S = 600


def connect(account: SnowflakeSettings) -> SnowflakeConnection:
    """A connection to the prod target's Snowflake account, signed in as its settings say:
    a key pair when `private_key_path` is set, else the password."""
    options: dict[str, object] = {
        "account": account.account,
        "user": account.user,
        "role": account.role,
        "warehouse": account.warehouse,
        "database": account.database,
        "login_timeout": LOGIN_TIMEOUT_S,
        "network_timeout": NETWORK_TIMEOUT_S,
    }
    if account.private_key_path:
        options["private_key_file"] = account.private_key_path
        options["private_key_file_pwd"] = account.private_key_passphrase
    else:
        options["password"] = account.password
    if account.host:
        options |= {"host": account.host, "port": account.port, "protocol": account.protocol}
    return snowflake.connector.connect(**{k: v for k, v in options.items() if v is not None})


class UnmappedTypeError(TypeError):
    """A staging column has an Iceberg type with no Snowflake equivalent here."""


def snowflake_type(iceberg_type: IcebergType) -> str:
    """The Snowflake column type holding an Iceberg type's values unchanged.

    Raises:
        UnmappedTypeError: a type staging does not use yet; add it here.
    """
    match iceberg_type:
        case StringType():
            return "VARCHAR"
        case LongType():
            return "BIGINT"
        case IntegerType():
            return "INTEGER"
        case DoubleType():
            return "DOUBLE"
        case DecimalType():
            return f"NUMBER({iceberg_type.precision}, {iceberg_type.scale})"
        case BooleanType():
            return "BOOLEAN"
        case DateType():
            return "DATE"
        case TimestamptzType():
            return "TIMESTAMP_TZ"
        case TimestampType():
            return "TIMESTAMP_NTZ"
    raise UnmappedTypeError(f"no Snowflake type for Iceberg {iceberg_type}")


def create_table_sql(definition: TableDef, database: str) -> str:
    """`CREATE OR REPLACE TABLE` for a staging table, its columns declared as in the lakehouse."""
    columns = ",\n    ".join(
        f'"{c.name.upper()}" {snowflake_type(c.type)}{" NOT NULL" if c.required else ""}'
        for c in definition.columns
    )
    return f"create or replace table {_qualified(definition, database)} (\n    {columns}\n)"


def load_table(
    catalog: Catalog, connection: SnowflakeConnection, definition: TableDef, database: str
) -> int:
    """Replace a staging table's rows in Snowflake with the lakehouse's. Returns the rows
    loaded."""
    rows = read_rows(catalog, definition)
    table = _qualified(definition, database)
    stage = f"@{database}.{SCHEMA}.%{definition.name.upper()}"
    with connection.cursor() as cursor, tempfile.TemporaryDirectory() as folder:
        cursor.execute(create_table_sql(definition, database))
        if rows.is_empty():
            return 0
        for i, part in enumerate(rows.iter_slices(ROWS_PER_FILE)):
            path = Path(folder) / f"{definition.name}-{i:05d}.parquet"
            part.write_parquet(path)
            cursor.execute(f"put 'file://{path.as_posix()}' {stage} overwrite = true")
        cursor.execute(
            f"copy into {table} from {stage}"
            " file_format = (type = parquet use_logical_type = true)"
            " match_by_column_name = case_insensitive purge = true"
        )
        loaded = sum(int(result[3]) for result in cursor.fetchall())
    if loaded != rows.height:
        raise RuntimeError(f"{table}: {loaded} rows loaded of {rows.height}")
    return loaded


def load_staging(
    catalog: Catalog,
    connection: SnowflakeConnection,
    database: str,
    tables: Iterable[TableDef] = staging.TABLES,
) -> dict[str, int]:
    """Replace every staging table in `<database>.LAKEHOUSE_STAGING` with the lakehouse's
    current rows.

    Args:
        catalog: the lakehouse the staging tables are read from.
        connection: an open Snowflake connection allowed to create tables in `database`.
        database: the Snowflake database of the prod dbt target.
        tables: the staging tables to load; all of them by default.

    Returns:
        The rows loaded, by staging table name.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"create schema if not exists {database}.{SCHEMA}")
    return {
        definition.name: load_table(catalog, connection, definition, database)
        for definition in tables
    }


def _qualified(definition: TableDef, database: str) -> str:
    return f"{database}.{SCHEMA}.{definition.name.upper()}"
