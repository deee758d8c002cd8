"""The curated zone is declared by the marts' enforced dbt contracts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pyiceberg.types import DecimalType, LongType, StringType, TimestamptzType

from catalog.tables.curated import MARTS_DIR, ContractError, contracted_marts


def _write_mart(directory: Path, name: str, columns: list[dict[str, object]]) -> None:
    model = {
        "name": name,
        "description": f"The {name}\n  mart.",
        "config": {"contract": {"enforced": True}},
        "columns": columns,
    }
    (directory / f"{name}.yml").write_text(yaml.safe_dump({"version": 2, "models": [model]}))


def test_every_mart_of_the_project_is_a_curated_table_with_its_contract() -> None:
    tables = {t.name: t for t in contracted_marts()}

    assert set(tables) == {
        "customer_360",
        "customers",
        "dim_customer",
        "fct_order_items",
        "fct_orders",
        "fct_sessions",
        "fct_support_tickets",
    }
    for path in MARTS_DIR.glob("*.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            table = tables[model["name"]]
            assert table.column_names == [c["name"] for c in model["columns"]]
            assert all(column.doc for column in table.columns), model["name"]
            assert table.identifier


def test_contract_types_become_iceberg_types_and_the_primary_key_the_identifier(
    tmp_path: Path,
) -> None:
    _write_mart(
        tmp_path,
        "fct_things",
        [
            {"name": "thing_id", "data_type": "varchar", "constraints": [{"type": "primary_key"}]},
            {"name": "customer_key", "data_type": "BIGINT", "description": "who"},
            {"name": "amount", "data_type": "decimal(12, 2)"},
            {"name": "seen_at", "data_type": "timestamp with time zone"},
        ],
    )
    (table,) = contracted_marts(tmp_path)

    assert table.identifier_name == "curated.fct_things"
    assert table.doc == "The fct_things mart."
    assert [(c.name, c.type, c.required) for c in table.columns] == [
        ("thing_id", StringType(), True),
        ("customer_key", LongType(), False),
        ("amount", DecimalType(12, 2), False),
        ("seen_at", TimestamptzType(), False),
    ]


def test_a_mart_without_an_enforced_contract_is_not_published(tmp_path: Path) -> None:
    (tmp_path / "loose.yml").write_text(
        yaml.safe_dump({"version": 2, "models": [{"name": "loose", "columns": []}]})
    )
    assert contracted_marts(tmp_path) == ()


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            [{"name": "k", "data_type": "timestamp", "constraints": [{"type": "primary_key"}]}],
            r"fct_bad\.k: data_type 'timestamp' has no Iceberg type",
        ),
        ([{"name": "k", "data_type": "varchar"}], "fct_bad: the contract names no primary_key"),
    ],
)
def test_a_contract_that_cannot_be_published_is_one_clear_error(
    tmp_path: Path, columns: list[dict[str, object]], message: str
) -> None:
    _write_mart(tmp_path, "fct_bad", columns)
    with pytest.raises(ContractError, match=message):
        contracted_marts(tmp_path)
