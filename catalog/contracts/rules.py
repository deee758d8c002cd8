"""A contract's expectations as row rules, the form every staging engine enforces.

Each engine's `contracts.check` evaluates the same rules (transforms/<engine>/contracts.py);
this module only decides which rules a contract implies and what each one means:

- `primary_key`: the key is null or blank.
- `duplicate_key`: an earlier row of the same ingest batch (by `_source_position`) has the
  same key but different values in `compared` (a repeated delivery with equal values is not
  a violation: staging deduplicates it).
- `not_null`: a required column is null or blank.
- `type`: a text value that does not fully match `pattern` (the contract's type, for a raw
  column that holds text, as file drops do).
- `accepted_values`: a non-null value outside `accepted`.

Rules apply in order and a row is charged to the first it breaks. Rows captured as a
database delete carry only their key, so every rule but `primary_key` skips them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pyiceberg.types import IcebergType, StringType

from catalog.contracts.model import ColumnType, Contract


class RuleKind(StrEnum):
    PRIMARY_KEY = "primary_key"
    DUPLICATE_KEY = "duplicate_key"
    NOT_NULL = "not_null"
    TYPE = "type"
    ACCEPTED_VALUES = "accepted_values"


# What a text value of each contract type must look like, whole (regular expressions that
# Polars, DuckDB (RE2) and Spark (Java) all read the same way: ASCII classes spelled out,
# since `\s` and `\d` mean Unicode in Rust but ASCII in RE2 and Java).
_S, _D = r"[ \t\n\r\f\v]", "[0-9]"
_WHOLE = rf"^{_S}*[+-]?{_D}+{_S}*$"
_NUMBER = rf"[+-]?({_D}+\.?{_D}*|\.{_D}+)"
_EXPONENT = rf"([eE][+-]?{_D}+)?"
_DATE = rf"{_D}{{4}}-{_D}{{2}}-{_D}{{2}}"
_TIME = rf"{_D}{{2}}:{_D}{{2}}(:{_D}{{2}}(\.{_D}+)?)?"
_OFFSET = rf"(Z|[+-]{_D}{{2}}:?{_D}{{2}})?"
PATTERNS: dict[ColumnType, str] = {
    ColumnType.INTEGER: _WHOLE,
    ColumnType.LONG: _WHOLE,
    ColumnType.FLOAT: rf"^{_S}*{_NUMBER}{_EXPONENT}{_S}*$",
    ColumnType.DOUBLE: rf"^{_S}*{_NUMBER}{_EXPONENT}{_S}*$",
    ColumnType.DECIMAL: rf"^{_S}*{_NUMBER}{_S}*$",
    ColumnType.BOOLEAN: r"^(true|false|True|False|TRUE|FALSE)$",
    ColumnType.DATE: rf"^{_DATE}$",
    ColumnType.TIMESTAMP: rf"^{_DATE}[T ]{_TIME}{_OFFSET}$",
}


@dataclass(frozen=True)
class Rule:
    kind: RuleKind
    column: str
    accepted: tuple[str, ...] = ()
    pattern: str | None = None
    compared: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """How a quarantine row names the rule, e.g. `not_null`."""
        return self.kind.value


def rules_for(contract: Contract, column_types: Mapping[str, IcebergType]) -> tuple[Rule, ...]:
    """The row rules `contract` implies for raw rows with `column_types` (the raw table's
    live schema), in the order they apply.

    A contract column held as text, or not (yet) in the table, is checked against the
    contract's type value by value; typed columns were checked by ingestion.
    """
    e = contract.expectations
    declared = column_types
    compared = tuple(c for c in contract.columns if c != e.primary_key)
    rules = [
        Rule(RuleKind.PRIMARY_KEY, e.primary_key),
        Rule(RuleKind.DUPLICATE_KEY, e.primary_key, compared=compared),
        *(Rule(RuleKind.NOT_NULL, c) for c in e.not_null if c != e.primary_key),
    ]
    for column, kind in contract.columns.items():
        is_text = isinstance(declared.get(column, StringType()), StringType)
        if kind is not ColumnType.STRING and is_text:
            rules.append(Rule(RuleKind.TYPE, column, pattern=PATTERNS[kind]))
    rules += [
        Rule(RuleKind.ACCEPTED_VALUES, column, accepted=tuple(values))
        for column, values in e.accepted_values.items()
    ]
    return tuple(rules)
