"""Normalisation of identity attributes, shared by every staging transform.

Each function returns a DuckDB expression, so the same rule runs inside any transform; each
reads values exactly as its twin in transforms/polars/normalise.py does.
"""

from duckdb import CaseExpression, ColumnExpression, ConstantExpression, Expression
from duckdb import FunctionExpression as Call

# White space as every engine reads it alike: ASCII space, tab, line feed, carriage return,
# form feed, vertical tab, and no-break space (RE2 spells a code point `\x{...}`).
SPACE = "[ \\t\\n\\r\\f\\v\\x{a0}]"

# Polars lower-cases with Rust's full mapping, DuckDB code point by code point: the one
# character whose lower case is two code points is mapped first.
_DOTTED_CAPITAL_I, _DOTTED_SMALL_I = "\u0130", "i\u0307"


def _call(function: str, *args: Expression | str | int) -> Expression:
    """`function(args)`, plain Python values taken as constants."""
    return Call(
        function, *(a if isinstance(a, Expression) else ConstantExpression(a) for a in args)
    )


def trimmed(column: str) -> Expression:
    """`column` without leading and trailing white space."""
    return _call("regexp_replace", ColumnExpression(column), f"^{SPACE}+|{SPACE}+$", "", "g")


def email(column: str) -> Expression:
    """Trimmed, lower-case email; empty strings become null."""
    cleaned = _call("lower", _call("replace", trimmed(column), _DOTTED_CAPITAL_I, _DOTTED_SMALL_I))
    return _call("nullif", cleaned, "").alias(column)


def phone_e164(column: str, country_code: str = "1") -> Expression:
    """E.164 phone (`+15551234567`) from any punctuation style; unparseable becomes null."""
    digits = _call("regexp_replace", ColumnExpression(column), "[^0-9]", "", "g")
    length = _call("length", digits)
    return (
        CaseExpression(
            length == ConstantExpression(10), _call("concat", "+" + country_code, digits)
        )
        .when(
            (length == ConstantExpression(11)) & _call("starts_with", digits, country_code),
            _call("concat", "+", digits),
        )
        .otherwise(ConstantExpression(None))
        .alias(column)
    )


def name(column: str) -> Expression:
    """Trimmed name with inner runs of white space collapsed."""
    return _call("regexp_replace", trimmed(column), f"{SPACE}+", " ", "g").alias(column)
