"""`contracts.check` in DuckDB charges each row to the rule Polars charges it to, with the
same column and the same value text, and keeps the rows in order."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from catalog.contracts.loader import load_contracts
from catalog.contracts.model import ColumnType
from catalog.contracts.rules import PATTERNS, Rule, RuleKind, rules_for
from tests.transforms.duckdb.twins import assert_same_frame, relation
from transforms.duckdb.contracts import check as duckdb_check
from transforms.engines import RULE
from transforms.polars.contracts import check as polars_check

CONTRACTS = load_contracts()
FILE_RULES = (
    Rule(RuleKind.PRIMARY_KEY, "memberId"),
    Rule(RuleKind.DUPLICATE_KEY, "memberId", compared=("email", "points", "tier", "gone")),
    Rule(RuleKind.NOT_NULL, "email"),
    Rule(RuleKind.TYPE, "points", pattern=PATTERNS[ColumnType.LONG]),
    Rule(RuleKind.TYPE, "price", pattern=PATTERNS[ColumnType.DECIMAL]),
    Rule(RuleKind.TYPE, "ratio", pattern=PATTERNS[ColumnType.DOUBLE]),
    Rule(RuleKind.TYPE, "joined", pattern=PATTERNS[ColumnType.DATE]),
    Rule(RuleKind.TYPE, "seen_at", pattern=PATTERNS[ColumnType.TIMESTAMP]),
    Rule(RuleKind.TYPE, "opted_in", pattern=PATTERNS[ColumnType.BOOLEAN]),
    Rule(RuleKind.ACCEPTED_VALUES, "tier", accepted=("Gold", "Silver", "Blue")),
    # A column no file delivered: checked as nulls, and not added to the rows.
    Rule(RuleKind.ACCEPTED_VALUES, "nickname", accepted=("x",)),
    Rule(RuleKind.NOT_NULL, "nickname"),
)
GOOD = {
    "email": "a@example.com",
    "points": "12",
    "price": "9.99",
    "ratio": "1e-3",
    "joined": "2026-01-01",
    "seen_at": "2026-01-01T10:00:00Z",
    "opted_in": "true",
    "tier": "Gold",
}
# Text that Rust's regex, RE2 and a plain `trim` read differently.
TRICKY = [
    None,
    "",
    " ",
    "\u00a0",
    "\u3000\t",
    "\u200b",  # not white space
    "\v",
    "+5",
    " 12 ",
    "12\n",
    "\u0661\u0662",  # Arabic-Indic digits: digits to Rust
    " 12\u00a0",
    "1,234",
    ".5",
    "5.",
    "1e3",
    "-0.00",
    "2026-01-01",
    "2026-1-1",
    "2026-01-01T10:00:00Z",
    "2026-01-01 10:00+0530",
    "2026-01-01T10:00:00.123-05:00",
    "2026-01-01T10:00:00\n",
    "true",
    "TRUE",
    "yes",
    "Gold",
    "gold",
]


def _assert_same(frame: pl.DataFrame, rules: tuple[Rule, ...]) -> pl.DataFrame:
    checked = assert_same_frame(
        polars_check(frame.lazy(), rules), duckdb_check(relation(frame), rules)
    )
    assert checked.columns[: frame.width] == frame.columns
    return checked


def test_file_drop_rows_are_charged_alike() -> None:
    # (key, batch, position, changed column and value)
    cases: list[tuple[str | None, str, str | None, dict[str, str | None]]] = [
        *((key, "b1", str(i), {}) for i, key in enumerate([None, "", " ", "\u00a0", "\u3000\t"])),
        ("\u200b", "b1", "5", {}),
        # Same key in one batch: the first by position (by number: 9 before 10) wins.
        ("M1", "b1", "10", {"tier": "Silver"}),
        ("M1", "b1", "9", {}),
        ("M1", "b1", "11", {}),  # equal to the first: a repeated delivery
        ("M1", "b2", "1", {"tier": "Blue"}),  # another batch
        ("M2", "b1", "20", {"email": None}),
        ("M2", "b1", "21", {"email": None}),  # nulls equal nulls
        ("M2", "b1", "22", {"email": "x@example.com"}),
        ("M3", "b1", None, {"tier": "Blue"}),  # no position: first
        ("M3", "b1", "1", {}),
        *(
            (f"{column}-{i}", "b1", str(100 + i), {column: value})
            for column in ["points", "price", "ratio", "joined", "seen_at", "opted_in", "tier"]
            for i, value in enumerate(TRICKY)
        ),
    ]
    rows = [
        {"memberId": key, "_batch_id": batch, "_source_position": position, **GOOD, **changed}
        for key, batch, position, changed in cases
    ]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))

    checked = _assert_same(frame, FILE_RULES)

    assert checked["_rule"].null_count() < checked.height
    assert set(checked["_rule"].drop_nulls()) == {r.name for r in FILE_RULES} - {
        "accepted_values"
    } | {"accepted_values"}


def test_a_full_tie_on_position_is_settled_by_row_order() -> None:
    """Two rows of a key at one position of one batch (a batch is one file, so this takes a
    hand-made frame): the earlier row is the first. Polars' `sort_by` leaves such ties
    unordered, so this is DuckDB's rule alone."""
    frame = pl.DataFrame(
        {
            "memberId": ["M1", "M1", "M1"],
            "_batch_id": ["b1"] * 3,
            "_source_position": ["3", "3", "3"],
            "email": ["first@example.com", "second@example.com", "first@example.com"],
        }
    )
    rules = (Rule(RuleKind.DUPLICATE_KEY, "memberId", compared=("email",)),)

    checked = duckdb_check(relation(frame), rules)

    assert [row[0] for row in checked.project(RULE).fetchall()] == [None, "duplicate_key", None]


def test_deletes_skip_every_rule_but_the_primary_key() -> None:
    frame = pl.DataFrame(
        {
            "order_id": ["O1", "O1", "O2", None, " ", "O3", "O4"],
            "status": ["placed", None, "lost", None, None, "bogus", None],
            "_cdc_operation": ["insert", "delete", "delete", "delete", "delete", "update", None],
            "_batch_id": ["b1"] * 7,
            "_source_position": None,
        },
        schema_overrides={"_source_position": pl.String},
    )
    rules = (
        Rule(RuleKind.PRIMARY_KEY, "order_id"),
        Rule(RuleKind.DUPLICATE_KEY, "order_id", compared=("status",)),
        Rule(RuleKind.NOT_NULL, "status"),
        Rule(RuleKind.ACCEPTED_VALUES, "status", accepted=("placed", "shipped")),
    )

    checked = _assert_same(frame, rules)

    assert checked[RULE].to_list() == [
        None,
        None,
        None,
        "primary_key",
        "primary_key",
        "accepted_values",
        "not_null",
    ]


def test_typed_columns_are_read_as_polars_writes_them() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "count": [1, None, -3],
            "flag": [True, False, None],
            "money": [Decimal("1.50"), Decimal("-0.05"), None],
            "day": [date(2026, 1, 1), None, date(1999, 12, 31)],
            "at": [at, None, at.replace(microsecond=0)],
            "naive": [at.replace(tzinfo=None), None, None],
            "ratio": [1.5, 10.0, None],
            "_batch_id": ["b"] * 3,
            "_source_position": ["1", "2", "3"],
        },
        schema_overrides={"money": pl.Decimal(12, 2)},
    )
    typed = ["count", "flag", "money", "day", "at", "naive", "ratio"]
    rules = (
        *(Rule(RuleKind.ACCEPTED_VALUES, c, accepted=("nothing",)) for c in typed),
        *(Rule(RuleKind.TYPE, c, pattern="^$") for c in typed),
        *(Rule(RuleKind.NOT_NULL, c) for c in typed),
    )

    for one in rules:
        _assert_same(frame, (one,))
    _assert_same(frame, rules)


@pytest.mark.parametrize("contract", sorted(CONTRACTS))
@pytest.mark.parametrize("seed", range(3))
def test_every_contract_charges_random_rows_alike(contract: str, seed: int) -> None:
    # Every column as text, as a file drop lands it: every rule the contract implies.
    rules = rules_for(CONTRACTS[contract], {})
    columns = sorted({c for r in rules for c in (r.column, *r.compared)})
    accepted = [v for r in rules for v in r.accepted]
    rng = random.Random(seed)
    rows = 400
    data: dict[str, list[str | None]] = {
        c: [rng.choice([*TRICKY, *accepted]) for _ in range(rows)] for c in columns[1:]
    }
    key = rules[0].column
    data[key] = [rng.choice(["K1", "K2", "K3", None, " ", "\u00a0"]) for _ in range(rows)]
    data["_batch_id"] = [rng.choice(["b1", "b2"]) for _ in range(rows)]
    # Positions are unique in a batch (a batch is one file, or one shard's sequence numbers).
    data["_source_position"] = [str(p) for p in rng.sample(range(10 * rows), rows)]
    data["_cdc_operation"] = [rng.choice(["insert", "update", "delete", None]) for _ in range(rows)]
    frame = pl.DataFrame(data, schema=dict.fromkeys(data, pl.String))

    checked = _assert_same(frame, rules)

    assert checked[RULE].null_count() < checked.height


def test_no_rules_charge_nothing() -> None:
    frame = pl.DataFrame({"id": ["a"], "_batch_id": ["b"], "_source_position": ["1"]})

    checked = _assert_same(frame, ())

    assert checked[RULE].to_list() == [None]
