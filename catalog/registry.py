"""Every lakehouse table, declared once, and the code that creates and evolves them."""

from __future__ import annotations

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table
from sqlalchemy.exc import IntegrityError

from catalog.factory import COMMIT_RETRIES
from catalog.tables import curated, ops, raw, staging
from catalog.tables.definition import TableDef, Zone

TABLES: dict[str, TableDef] = {
    t.identifier_name: t for t in (*raw.TABLES, *staging.TABLES, *curated.TABLES, *ops.TABLES)
}

TABLE_PROPERTIES = {
    "commit.retry.num-retries": COMMIT_RETRIES,
    "write.parquet.compression-codec": "zstd",
}


def ensure_namespaces(catalog: Catalog) -> None:
    """Create the four zone namespaces where missing."""
    for zone in Zone:
        try:
            catalog.create_namespace_if_not_exists(zone.value)
        except IntegrityError:
            # Another writer created it between pyiceberg's check and its insert.
            if (zone.value,) not in catalog.list_namespaces():
                raise


def ensure_table(catalog: Catalog, table: TableDef) -> Table:
    """Open `table`, creating it on first use and adding any newly declared columns.

    Evolution is additive only (new optional columns, widened types): a column dropped or
    narrowed in a definition is left as it is in the table, so old snapshots stay readable.
    """
    try:
        existing = catalog.load_table(table.identifier_name)
    except NoSuchTableError:
        catalog.create_namespace_if_not_exists(table.zone.value)
        return catalog.create_table_if_not_exists(
            table.identifier_name,
            schema=table.schema(),
            partition_spec=table.partition_spec(),
            properties=TABLE_PROPERTIES,
        )
    missing = set(table.column_names) - set(existing.schema().column_names)
    if missing:
        with existing.update_schema() as update:
            update.union_by_name(table.schema())
    return existing


def ensure_all(catalog: Catalog) -> dict[str, Table]:
    """Create every namespace and declared table; return the tables by name."""
    ensure_namespaces(catalog)
    return {name: ensure_table(catalog, t) for name, t in TABLES.items()}
