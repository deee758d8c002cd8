"""Contract rules on a DuckDB relation (see catalog/contracts/rules.py for what each means).

Values are read as transforms/polars/contracts.py reads them: white space, digits (see
`re2_regex`) and a value's text as Polars (Rust) has them, where DuckDB's own would differ.
"""

from __future__ import annotations

import duckdb
from duckdb.sqltypes import TIMESTAMP, TIMESTAMP_TZ, VARCHAR, DuckDBPyType

from catalog.contracts.rules import Rule, RuleKind
from transforms.duckdb.regex import WHITE_SPACE, re2_regex
from transforms.duckdb.sql import INPUT_ORDER, NUMBERED, literal, names, quoted
from transforms.engines import COLUMN, RULE, VALUE

DELETE = "delete"
_BROKEN = "_broken"  # the index of the first rule a row breaks


def text(column: str, kind: DuckDBPyType) -> str:
    """SQL for `column`'s value as text, as Polars casts it to a string.

    Timestamps are written with microseconds (and the session's zone, UTC, as `+00:00`);
    floats in DuckDB's shortest form, which writes tiny and huge ones as Polars does not.
    """
    value = quoted(column)
    if kind == VARCHAR:
        return value
    if kind == TIMESTAMP_TZ:
        return f"strftime({value}, '%Y-%m-%d %H:%M:%S.%f+00:00')"
    if kind == TIMESTAMP:
        return f"strftime({value}, '%Y-%m-%d %H:%M:%S.%f')"
    return f"CAST({value} AS VARCHAR)"


def _blank(column: str, kind: DuckDBPyType) -> str:
    return (
        f"({quoted(column)} IS NULL OR regexp_full_match({text(column, kind)}, '[{WHITE_SPACE}]*'))"
    )


def _broken(rule: Rule, kinds: dict[str, DuckDBPyType]) -> str:
    """SQL true where a row breaks `rule`."""
    column, kind = quoted(rule.column), kinds[rule.column]
    match rule.kind:
        case RuleKind.PRIMARY_KEY | RuleKind.NOT_NULL:
            return _blank(rule.column, kind)
        case RuleKind.TYPE:
            assert rule.pattern is not None
            matches = (
                f"regexp_matches({text(rule.column, kind)}, {literal(re2_regex(rule.pattern))})"
            )
            return f"({column} IS NOT NULL AND NOT {matches})"
        case RuleKind.ACCEPTED_VALUES:
            if not rule.accepted:
                return f"({column} IS NOT NULL)"
            accepted = ", ".join(literal(v) for v in rule.accepted)
            return f"({column} IS NOT NULL AND {text(rule.column, kind)} NOT IN ({accepted}))"
        case RuleKind.DUPLICATE_KEY:
            # Compared with the batch's first row of the key, by `_source_position` (a row
            # number or `shard:sequence`: by length, then text), then by row order. Nulls
            # are equal, as in Polars' comparison of structs.
            first = (
                f"(PARTITION BY _batch_id, {column} ORDER BY length(_source_position) NULLS FIRST,"
                f" _source_position NULLS FIRST, {INPUT_ORDER})"
            )
            compared = [c for c in rule.compared if c in kinds]
            if not compared:
                return "false"
            differs = " OR ".join(
                f"{quoted(c)} IS DISTINCT FROM first_value({quoted(c)}) OVER {first}"
                for c in compared
            )
            return f"(({differs}) AND NOT {_blank(rule.column, kind)})"


def check(relation: duckdb.DuckDBPyRelation, rules: tuple[Rule, ...]) -> duckdb.DuckDBPyRelation:
    """`relation` with `_rule`, `_column` and `_value`: the first rule each row breaks (null
    when it breaks none), the column it concerns and that column's value as text. Rows keep
    their order."""
    # A column the rows lack (a file drop's optional field) is checked as all nulls.
    missing = sorted({r.column for r in rules} - set(relation.columns))
    frame = relation.project(
        ", ".join(["*", *(f"NULL::VARCHAR AS {quoted(c)}" for c in missing), NUMBERED])
    )
    kinds = dict(zip(frame.columns, frame.types, strict=True))
    is_delete = (
        f"coalesce(_cdc_operation = {literal(DELETE)}, false)"
        if "_cdc_operation" in kinds
        else "false"
    )
    conditions = []
    for rule in rules:
        broken = _broken(rule, kinds)
        if rule.kind is not RuleKind.PRIMARY_KEY:
            broken = f"({broken} AND NOT {is_delete})"
        conditions.append(broken)
    first_broken = "".join(f" WHEN {b} THEN {i}" for i, b in enumerate(conditions))

    def of_broken(values: list[str]) -> str:
        cases = "".join(f" WHEN {i} THEN {v}" for i, v in enumerate(values))
        return f"CASE {_BROKEN}{cases} END" if cases else "NULL::VARCHAR"

    rule_of = of_broken([literal(r.name) for r in rules])
    column_of = of_broken([literal(r.column) for r in rules])
    value_of = of_broken([text(r.column, kinds[r.column]) for r in rules])
    return frame.query(
        "frame",
        f"""
        SELECT * EXCLUDE ({names([*missing, INPUT_ORDER, _BROKEN])}),
            {rule_of} AS {RULE}, {column_of} AS {COLUMN}, {value_of} AS {VALUE}
        FROM (
            SELECT *, {f"CASE{first_broken} END" if conditions else "NULL"} AS {_BROKEN}
            FROM frame
        )
        ORDER BY {INPUT_ORDER}
        """,
    )
