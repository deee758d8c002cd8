"""Reading contracts from JSON or YAML files, one clear error line for a bad one."""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml
from pydantic import ValidationError

from catalog.contracts.model import Contract

SUFFIXES = (".json", ".yaml", ".yml")

# The seed's example is shipped verbatim, so its lineage cannot name the raw table; it is
# named here instead.
SEED_FEEDS = {"customer360_customer_v1": "crm_customers"}


class ContractError(ValueError):
    """A contract file that cannot be read or does not match the contract model."""


def load_contract(path: Path | Traversable) -> Contract:
    """Read and validate one contract file (`.json`, `.yaml` or `.yml`).

    Raises:
        ContractError: one line naming the file and the offending field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{path}: no such contract file") from None
    try:
        data = json.loads(text) if path.name.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        detail = " ".join(str(e).split())
        raise ContractError(f"{path}: not valid {_format(path)}: {detail}") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path}: expected a mapping of contract fields at the top level")
    try:
        return Contract.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'contract'}: {err['msg']}"
            for err in e.errors()
        )
        raise ContractError(f"{path}: {problems}") from None


def feed_of(contract: Contract) -> str:
    """The raw table name (without the zone) a contract describes, e.g. `orders_orders`."""
    if contract.lineage.raw_table:
        return contract.lineage.raw_table.removeprefix("raw.")
    try:
        return SEED_FEEDS[contract.contract_id]
    except KeyError:
        raise ContractError(
            f"{contract.contract_id}: lineage.raw_table is missing; name the raw table it feeds"
        ) from None


def contract_files(folder: Path | Traversable | None = None) -> list[Path | Traversable]:
    """The contract files in `folder` (default: the ones shipped in this package), sorted."""
    root = folder if folder is not None else files("catalog.contracts")
    return sorted(
        (f for f in root.iterdir() if f.is_file() and f.name.endswith(SUFFIXES)),
        key=lambda f: f.name,
    )


def load_contracts(folder: Path | Traversable | None = None) -> dict[str, Contract]:
    """Every contract in `folder` (default: this package), keyed by feed, latest version.

    Raises:
        ContractError: a file is bad, or two files give the same feed the same version.
    """
    by_feed: dict[str, tuple[Contract, str]] = {}
    for path in contract_files(folder):
        contract = load_contract(path)
        feed = feed_of(contract)
        seen = by_feed.get(feed)
        if seen and seen[0].version == contract.version:
            raise ContractError(
                f"{path}: feed {feed} already has version {contract.version} in {seen[1]}"
            )
        if seen is None or contract.version > seen[0].version:
            by_feed[feed] = (contract, path.name)
    return {feed: contract for feed, (contract, _) in sorted(by_feed.items())}


def _format(path: Path | Traversable) -> str:
    return "JSON" if path.name.endswith(".json") else "YAML"
