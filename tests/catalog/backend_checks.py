"""The checks every catalog backend passes, local (test_factory.py) or remote
(test_factory_remote.py): given settings for an empty catalog, build it and read it back."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.catalog import load_catalog
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from c360.settings import Settings
from catalog.factory import catalog_properties, open_catalog
from catalog.registry import TABLES, ensure_all
from catalog.tables import raw
from catalog.writer import write

ZONES = [("curated",), ("ops",), ("raw",), ("staging",)]


def check_ensure_all_creates_the_zones_and_each_table_once(settings: Settings) -> None:
    """`ensure_all` twice on the empty catalog of `settings`: the four zone namespaces, every
    registered table once, with its schema, properties and (for raw) day partitioning."""
    catalog = open_catalog(settings)
    assert catalog.list_namespaces() == []

    first = ensure_all(catalog)
    second = ensure_all(open_catalog(settings))

    catalog = open_catalog(settings)
    assert sorted(catalog.list_namespaces()) == ZONES
    listed = [".".join(ident) for zone in ZONES for ident in catalog.list_tables(zone)]
    assert sorted(listed) == sorted(TABLES)
    # The second pass opened the same tables: no new table, no new metadata version.
    assert {name: t.metadata_location for name, t in second.items()} == {
        name: t.metadata_location for name, t in first.items()
    }
    for name, table in first.items():
        assert table.schema().column_names == TABLES[name].column_names
        assert table.properties["commit.retry.num-retries"] == "10"
    raw_spec = first["raw.crm_customers"].spec()
    partitions = [(f.name, f.transform) for f in raw_spec.fields]
    assert partitions == [("_ingested_at_day", DayTransform())]


def check_an_outside_reader_reads_back(settings: Settings, rows: pa.Table) -> Table:
    """Write `rows` to raw.crm_customers, then load the table as an outside reader would.

    Returns:
        The table as that reader sees it, after checking it holds the written snapshot and rows.
    """
    result = write(open_catalog(settings), raw.CRM_CUSTOMERS, rows, batch_id="b1", run_id="r1")

    # What an outside reader (a notebook, DuckDB via pyiceberg) does with the properties.
    outside = load_catalog("c360", **catalog_properties(settings.resolved_catalog()))
    table = outside.load_table("raw.crm_customers")

    snapshot = table.current_snapshot()
    assert snapshot is not None
    assert (result.rows, snapshot.snapshot_id) == (rows.num_rows, result.snapshot_id)
    assert table.scan().to_arrow().sort_by("customer_id").to_pylist() == rows.to_pylist()
    return table
