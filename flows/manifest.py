"""A run's manifest: the snapshot of every table it read, and of every staging and curated
table as it left them. `c360 replay` rebuilds a run from the `read` entries and compares
the result with the `result` entries."""

from __future__ import annotations

from pyiceberg.catalog import Catalog

from catalog.registry import ensure_table
from catalog.run_log import TableSnapshot, current_snapshots
from catalog.tables import curated, ops, staging
from catalog.tables.definition import TableDef
from flows.stage import STAGED, consumed_snapshot

DIM_CUSTOMER = next(t for t in curated.TABLES if t.name == "dim_customer")

# The state a run builds on rather than rebuilds: the customer keys resolution carries
# over, the Splink model it scores pairs with, and the SCD2 history the dbt snapshot extends.
PRIOR_STATE: tuple[TableDef, ...] = (staging.CUSTOMER_XREF, ops.IDENTITY_MODELS, DIM_CUSTOMER)

RESULTS: tuple[TableDef, ...] = (*staging.TABLES, *curated.TABLES)


def prior_state(catalog: Catalog) -> list[TableSnapshot]:
    """The prior-state tables as the run found them (take this before the run writes)."""
    return current_snapshots(catalog, PRIOR_STATE, "read")


def raw_read(catalog: Catalog) -> list[TableSnapshot]:
    """The raw snapshot each staging table is built from (take this after staging): a
    paused feed's staging table names the older snapshot it was last staged from."""
    return [
        TableSnapshot(
            s.source.identifier_name, "read", consumed_snapshot(ensure_table(catalog, s.target))
        )
        for s in STAGED.values()
    ]


def results(catalog: Catalog) -> list[TableSnapshot]:
    """Every staging and curated table as the run leaves it."""
    return current_snapshots(catalog, RESULTS, "result")
