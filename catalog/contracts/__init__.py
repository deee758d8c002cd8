"""Data contracts, one per feed and versioned: what a feed promises and how it is enforced.

Contracts are JSON or YAML files in this folder (`<contract_id>.json|yaml`); the seed's
example `customer360_customer_v1.json` is kept exactly as the seed wrote it.
"""

from catalog.contracts.conformance import column_mismatches, infers_data_columns, raw_table_of
from catalog.contracts.loader import ContractError, feed_of, load_contract, load_contracts
from catalog.contracts.model import ColumnType, Contract, ViolationAction

__all__ = [
    "ColumnType",
    "Contract",
    "ContractError",
    "ViolationAction",
    "column_mismatches",
    "feed_of",
    "infers_data_columns",
    "load_contract",
    "load_contracts",
    "raw_table_of",
]
