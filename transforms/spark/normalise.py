"""Normalisation of identity attributes, the twins of transforms/polars/normalise.py.

Each function returns a Spark column expression, so the same rule runs inside any transform.
"""

from pyspark.sql import Column
from pyspark.sql import functions as sf

from transforms.spark.regex import java_regex

# White space as every engine reads it alike, the Polars module's text (see `java_regex` for
# how `\v` and `$` are spelled for Java): ASCII space, tab, line feed, carriage return, form
# feed, vertical tab, and no-break space.
SPACE = "[ \\t\\n\\r\\f\\v\\u00a0]"
_EDGES = java_regex(f"^{SPACE}+|{SPACE}+$")
_RUNS = java_regex(f"{SPACE}+")
_NOT_DIGIT = java_regex("[^0-9]")


def trimmed(column: str) -> Column:
    """`column` without leading and trailing white space."""
    return sf.regexp_replace(sf.col(column), _EDGES, "")


def email(column: str) -> Column:
    """Trimmed, lower-case email; empty strings become null."""
    cleaned = sf.lower(trimmed(column))
    return sf.when(sf.length(cleaned) > 0, cleaned).alias(column)


def phone_e164(column: str, country_code: str = "1") -> Column:
    """E.164 phone (`+15551234567`) from any punctuation style; unparseable becomes null."""
    digits = sf.regexp_replace(sf.col(column), _NOT_DIGIT, "")
    length = sf.length(digits)
    return (
        sf.when(length == 10, sf.concat(sf.lit("+" + country_code), digits))
        .when((length == 11) & digits.startswith(country_code), sf.concat(sf.lit("+"), digits))
        .alias(column)
    )


def name(column: str) -> Column:
    """Trimmed name with inner runs of white space collapsed."""
    return sf.regexp_replace(trimmed(column), _RUNS, " ").alias(column)
