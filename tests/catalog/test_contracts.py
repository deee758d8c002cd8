import dataclasses
import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from pyiceberg.types import DateType

from catalog.contracts import (
    ColumnType,
    ContractError,
    column_mismatches,
    infers_data_columns,
    load_contract,
    load_contracts,
    raw_table_of,
)
from catalog.tables import raw
from catalog.tables.definition import Column

SEED = Path("/work/shared/seed/customer360-seed-README.md")
PACKAGE = files("catalog.contracts")
SEED_CONTRACT = PACKAGE / "customer360_customer_v1.json"
YAML_CONTRACTS = sorted(f.name for f in PACKAGE.iterdir() if f.name.endswith(".yaml"))


def seed_block() -> str:
    text = SEED.read_text(encoding="utf-8")
    section = text[text.index("## 1.2.3") :]
    match = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert match
    return match.group(1)


@pytest.mark.skipif(not SEED.exists(), reason="the seed document is not checked out here")
def test_seed_contract_is_the_seeds_example_verbatim() -> None:
    assert SEED_CONTRACT.read_text(encoding="utf-8") == seed_block()
    assert json.loads(SEED_CONTRACT.read_text(encoding="utf-8")) == json.loads(seed_block())


def test_seed_contract_loads_as_written() -> None:
    contract = load_contract(SEED_CONTRACT)
    assert contract.contract_id == "customer360_customer_v1"
    assert contract.version == 1
    assert contract.columns["signup_date"] is ColumnType.DATE
    assert contract.expectations.primary_key == "customer_id"
    assert contract.expectations.unique_keys == ["email"]
    assert contract.expectations.slo_completeness_pct == 99.5
    assert contract.enforcement.alert_channel == "slack://#data-quality-alerts"


@pytest.mark.parametrize("name", YAML_CONTRACTS)
def test_yaml_contract_loads(name: str) -> None:
    contract = load_contract(PACKAGE / name)
    assert f"{contract.contract_id}.yaml" == name
    assert contract.version == 1
    assert contract.expectations.slo_completeness_pct == 99.5
    tier = 5 if contract.source_system.endswith("Kinesis") else 60
    assert contract.expectations.slo_timeliness_minutes == tier


def test_every_raw_table_has_one_contract() -> None:
    contracts = load_contracts()
    assert sorted(contracts) == sorted(t.name for t in raw.TABLES)
    assert contracts["crm_customers"].contract_id == "customer360_customer_v1"
    assert contracts["clickstream_events"].expectations.slo_timeliness_minutes == 5


def test_latest_version_wins_and_duplicates_are_refused(tmp_path: Path) -> None:
    v1 = (PACKAGE / "customer360_orders_orders_v1.yaml").read_text(encoding="utf-8")
    (tmp_path / "customer360_orders_orders_v1.yaml").write_text(v1)
    v2 = v1.replace("_v1", "_v2").replace("version: 1", "version: 2")
    (tmp_path / "customer360_orders_orders_v2.yaml").write_text(v2)
    assert load_contracts(tmp_path)["orders_orders"].version == 2

    (tmp_path / "copy_of_v2.yml").write_text(v2)
    with pytest.raises(ContractError, match="already has version 2"):
        load_contracts(tmp_path)


def _seed_with(tmp_path: Path, change: dict[str, object], suffix: str = ".json") -> Path:
    data = json.loads(SEED_CONTRACT.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, key = dotted.split(".")
        node = data
        for p in parents:
            node = node[p]
        if value is None:
            del node[key]
        else:
            node[key] = value
    path = tmp_path / f"bad{suffix}"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"owner": None}, "owner: Field required"),
        ({"schema.email": "TEXT"}, "schema.email: Input should be"),
        ({"expectations.primary_key": None}, "expectations.primary_key: Field required"),
        ({"expectations.slo_completeness_pct": 150}, "expectations.slo_completeness_pct"),
        ({"expectations.prmary_key": "x"}, "expectations.prmary_key: Extra inputs"),
        ({"enforcement.on_violation": "shrug"}, "enforcement.on_violation: Input should be"),
        ({"expectations.not_null": ["nope"]}, "columns not in schema: nope"),
        ({"contract_id": "customer360_customer"}, "must end in _v<N>"),
        ({"version": 2}, "differs from contract_id suffix _v1"),
    ],
)
def test_bad_contract_is_one_line_naming_file_and_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    path = _seed_with(tmp_path, change)
    with pytest.raises(ContractError) as raised:
        load_contract(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert field in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contract_id: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_unreadable_yaml_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken_v1.yaml"
    path.write_text(text)
    with pytest.raises(ContractError, match=expected) as raised:
        load_contract(path)
    assert "\n" not in str(raised.value)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no such contract file"):
        load_contract(tmp_path / "nope_v1.json")


@pytest.mark.parametrize("feed", sorted(t.name for t in raw.TABLES))
def test_shipped_contract_matches_its_raw_table(feed: str) -> None:
    contract = load_contracts()[feed]
    table = raw_table_of(contract)
    assert table.name == feed
    assert column_mismatches(contract) == []
    if not infers_data_columns(table):
        assert set(contract.columns) <= set(table.column_names)


def test_column_check_fails_for_a_tampered_contract() -> None:
    contract = load_contracts()["orders_orders"]
    columns = dict(contract.columns)
    columns["order_totl"] = columns.pop("order_total")
    columns["quantity_in_contract_only"] = ColumnType.INTEGER
    columns["ordered_at"] = ColumnType.DATE
    tampered = contract.model_copy(update={"columns": columns})
    assert column_mismatches(tampered) == [
        "customer360_orders_orders_v1: column ordered_at is DATE in the contract but "
        "timestamptz in raw.orders_orders",
        "customer360_orders_orders_v1: column order_totl not in raw.orders_orders",
        "customer360_orders_orders_v1: column quantity_in_contract_only not in raw.orders_orders",
    ]


def test_column_check_fails_when_the_table_drops_a_column() -> None:
    contract = load_contracts()["crm_customers"]
    table = raw.CRM_CUSTOMERS
    narrowed = dataclasses.replace(
        table, columns=tuple(c for c in table.columns if c.name != "lifetime_value")
    )
    retyped = dataclasses.replace(
        table,
        columns=tuple(
            Column(c.name, DateType()) if c.name == "is_active" else c for c in table.columns
        ),
    )
    assert column_mismatches(contract, narrowed) == [
        "customer360_customer_v1: column lifetime_value not in raw.crm_customers"
    ]
    assert column_mismatches(contract, retyped) == [
        "customer360_customer_v1: column is_active is BOOLEAN in the contract but date "
        "in raw.crm_customers"
    ]
