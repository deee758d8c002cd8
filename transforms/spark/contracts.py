"""Contract rules on a Spark frame, the twin of transforms/polars/contracts.py (see
catalog/contracts/rules.py for what each rule means)."""

from __future__ import annotations

from functools import reduce
from operator import or_

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as sf
from pyspark.sql.types import DataType, DoubleType, TimestampNTZType, TimestampType

from catalog.contracts.rules import Rule, RuleKind
from transforms.engines import COLUMN, RULE, VALUE
from transforms.spark.regex import java_regex

DELETE = "delete"

# Java's scientific form of a double (`Double.toString`): sign, digits, exponent.
_JAVA_EXPONENT_FORM = "^(-?)([0-9])\\.([0-9]+)E(-?[0-9]+)$"
# Polars writes a double positionally for exponents -5 to 15 (`0.00001`, `1000000000000000.0`).
_POSITIONAL_EXPONENTS = (-5, 15)


def _col(name: str) -> Column:
    """Column `name` taken literally (file drops' column names may hold dots)."""
    return sf.col("`" + name.replace("`", "``") + "`")


def _double_text(value: Column) -> Column:
    """A double as Polars writes it as text (`1e+16`, `0.00001`, `inf`).

    Spark writes it as Java does (`1.0E16`, `1.0E-5`, `Infinity`): the digits agree, and
    outside 1e-3 to 1e7, where Java writes positionally, its exponent form is rewritten.
    Java 17 writes some doubles with a digit more than the shortest (~2% of those of 1e16
    or more, and 5e-324): those texts differ until Java 19 (JDK-4511638).
    """
    java = value.cast("string")
    sign = sf.regexp_extract(java, _JAVA_EXPONENT_FORM, 1)
    digits = sf.regexp_replace(
        sf.concat(
            sf.regexp_extract(java, _JAVA_EXPONENT_FORM, 2),
            sf.regexp_extract(java, _JAVA_EXPONENT_FORM, 3),
        ),
        "0+$",
        "",
    )
    exponent = sf.regexp_extract(java, _JAVA_EXPONENT_FORM, 4).try_cast("int")
    width = sf.length(digits)
    whole = exponent + 1  # digits before the point when positional and exponent >= 0
    zeros = sf.repeat(sf.lit("0"), -exponent - 1)  # after the point, when exponent < 0
    positional = (
        sf.when(exponent < 0, sf.concat(sf.lit("0."), zeros, digits))
        .when(width <= whole, sf.concat(sf.rpad(digits, whole, "0"), sf.lit(".0")))
        .otherwise(
            sf.concat(digits.substr(sf.lit(1), whole), sf.lit("."), digits.substr(whole + 1, width))
        )
    )
    scientific = sf.concat(
        digits.substr(1, 1),
        sf.when(width > 1, sf.concat(sf.lit("."), digits.substr(sf.lit(2), width))).otherwise(""),
        sf.lit("e"),
        sf.when(exponent > 0, "+").otherwise(""),
        exponent.cast("string"),
    )
    low, high = _POSITIONAL_EXPONENTS
    return (
        sf.when(java == "Infinity", "inf")
        .when(java == "-Infinity", "-inf")
        .when(~java.rlike(_JAVA_EXPONENT_FORM), java)
        .when(exponent.between(low, high), sf.concat(sign, positional))
        .otherwise(sf.concat(sign, scientific))
    )


def _text(name: str, dtype: DataType) -> Column:
    """Column `name` as text, as Polars casts it (Spark's own cast spells timestamps and
    doubles otherwise; every other type it spells alike)."""
    value = _col(name)
    if isinstance(dtype, TimestampType):  # the session's time zone is UTC
        return sf.date_format(value, "yyyy-MM-dd HH:mm:ss.SSSSSSxxx")
    if isinstance(dtype, TimestampNTZType):
        return sf.date_format(value, "yyyy-MM-dd HH:mm:ss.SSSSSS")
    if isinstance(dtype, DoubleType):
        return _double_text(value)
    return value.cast("string")


def _blank(name: str, dtype: DataType) -> Column:
    # Polars' `strip_chars()` strips Unicode white space (Rust's `char::is_whitespace`).
    return _col(name).isNull() | _text(name, dtype).rlike("^\\p{IsWhite_Space}*\\z")


def _broken(rule: Rule, types: dict[str, DataType]) -> Column:
    """True where a row breaks `rule`."""
    value = _col(rule.column)
    dtype = types[rule.column]
    match rule.kind:
        case RuleKind.PRIMARY_KEY | RuleKind.NOT_NULL:
            return _blank(rule.column, dtype)
        case RuleKind.TYPE:
            assert rule.pattern is not None
            return value.isNotNull() & ~_text(rule.column, dtype).rlike(java_regex(rule.pattern))
        case RuleKind.ACCEPTED_VALUES:
            return value.isNotNull() & ~_text(rule.column, dtype).isin(list(rule.accepted))
        case RuleKind.DUPLICATE_KEY:
            compared = [_col(c) for c in rule.compared if c in types]
            if not compared:
                return sf.lit(False)
            position = sf.col("_source_position")
            # `_source_position` is a row number or `shard:sequence`: compare by length, then
            # text. Rows at the same position are ordered by their values, so the row taken
            # as first does not depend on how Spark partitioned them.
            batch = (
                Window.partitionBy(sf.col("_batch_id"), value)
                .orderBy(sf.length(position), position, *compared)
                .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
            )
            differs = reduce(or_, (~c.eqNullSafe(sf.first(c).over(batch)) for c in compared))
            return differs & ~_blank(rule.column, dtype)


def check(frame: DataFrame, rules: tuple[Rule, ...]) -> DataFrame:
    """`frame` with `_rule`, `_column` and `_value`: the first rule each row breaks (null
    when it breaks none), the column it concerns and that column's value as text."""
    # A column the rows lack (a file drop's optional field) is checked as all nulls.
    missing = sorted({r.column for r in rules} - set(frame.columns))
    frame = frame.withColumns({c: sf.lit(None).cast("string") for c in missing})
    types = {field.name: field.dataType for field in frame.schema.fields}
    is_delete = sf.col("_cdc_operation") == DELETE if "_cdc_operation" in types else sf.lit(False)
    rule_of = sf.lit(None).cast("string")
    column_of = sf.lit(None).cast("string")
    value_of = sf.lit(None).cast("string")
    for rule in reversed(rules):  # built inside out, so the first rule listed wins
        broken = _broken(rule, types)
        if rule.kind is not RuleKind.PRIMARY_KEY:
            broken = broken & ~sf.coalesce(is_delete, sf.lit(False))
        rule_of = sf.when(broken, sf.lit(rule.name)).otherwise(rule_of)
        column_of = sf.when(broken, sf.lit(rule.column)).otherwise(column_of)
        value_of = sf.when(broken, _text(rule.column, types[rule.column])).otherwise(value_of)
    return frame.withColumns({RULE: rule_of, COLUMN: column_of, VALUE: value_of}).drop(*missing)
