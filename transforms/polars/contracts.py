"""Contract rules on a Polars frame (see catalog/contracts/rules.py for what each means)."""

from __future__ import annotations

import polars as pl

from catalog.contracts.rules import Rule, RuleKind
from transforms.engines import COLUMN, RULE, VALUE

DELETE = "delete"


def _blank(column: str) -> pl.Expr:
    value = pl.col(column)
    text = value.cast(pl.String)
    return value.is_null() | (text.str.strip_chars() == "")


def _position_order() -> list[pl.Expr]:
    # `_source_position` is a row number or `shard:sequence`: compare by length, then text.
    position = pl.col("_source_position")
    return [position.str.len_chars(), position]


def _broken(rule: Rule, schema: pl.Schema) -> pl.Expr:
    """True where a row breaks `rule`."""
    column = pl.col(rule.column)
    match rule.kind:
        case RuleKind.PRIMARY_KEY | RuleKind.NOT_NULL:
            return _blank(rule.column)
        case RuleKind.TYPE:
            assert rule.pattern is not None
            return column.is_not_null() & ~column.cast(pl.String).str.contains(rule.pattern)
        case RuleKind.ACCEPTED_VALUES:
            return column.is_not_null() & ~column.cast(pl.String).is_in(list(rule.accepted))
        case RuleKind.DUPLICATE_KEY:
            compared = [c for c in rule.compared if c in schema]
            values = pl.struct(compared) if compared else pl.lit(None)
            first = values.sort_by(_position_order(), maintain_order=True).first()
            group = ["_batch_id", rule.column]
            return (values != first.over(group)).fill_null(False) & ~_blank(rule.column)


def check(frame: pl.LazyFrame, rules: tuple[Rule, ...]) -> pl.LazyFrame:
    """`frame` with `_rule`, `_column` and `_value`: the first rule each row breaks (null
    when it breaks none), the column it concerns and that column's value as text."""
    # A column the rows lack (a file drop's optional field) is checked as all nulls.
    missing = sorted({r.column for r in rules} - set(frame.collect_schema().names()))
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
    schema = frame.collect_schema()
    is_delete = pl.col("_cdc_operation") == DELETE if "_cdc_operation" in schema else pl.lit(False)
    rule_of: pl.Expr = pl.lit(None, pl.String)
    column_of: pl.Expr = pl.lit(None, pl.String)
    value_of: pl.Expr = pl.lit(None, pl.String)
    for rule in reversed(rules):  # built inside out, so the first rule listed wins
        broken = _broken(rule, schema)
        if rule.kind is not RuleKind.PRIMARY_KEY:
            broken = broken & ~is_delete.fill_null(False)
        rule_of = pl.when(broken).then(pl.lit(rule.name)).otherwise(rule_of)
        column_of = pl.when(broken).then(pl.lit(rule.column)).otherwise(column_of)
        value_of = pl.when(broken).then(pl.col(rule.column).cast(pl.String)).otherwise(value_of)
    return frame.with_columns(
        rule_of.alias(RULE), column_of.alias(COLUMN), value_of.alias(VALUE)
    ).drop(missing)
