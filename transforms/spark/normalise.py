"""Normalisation of identity attributes, the twins of transforms/polars/normalise.py.

Each function returns a Spark column expression, so the same rule runs inside any transform;
patterns and lookup tables are the Polars module's, its patterns read through `java_regex`.
Case mapping is Spark's (ICU's full Unicode rules, as Rust's); only Polars' title case has
no Spark function and is spelled out here. Letters Unicode added after Java 17's tables
(13.0) are not letters to `proper_name`'s re-casing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from pyspark.sql import Column
from pyspark.sql import functions as sf

from transforms.polars.normalise import (
    BOOLEANS,
    COUNTRIES,
    MONTHS,
    NAMED_DATES,
    NUMERIC_DATES,
    SPACE,
    TIMESTAMP,
    WHOLE_NUMBER,
)
from transforms.spark.regex import java_regex

_EDGES = java_regex(f"^{SPACE}+|{SPACE}+$")
_RUNS = java_regex(f"{SPACE}+")
_NOT_DIGIT = java_regex("[^0-9]")
# Rust's `is_alphabetic`, which Polars' title case takes for a letter.
_LETTER = "\\p{IsAlphabetic}"
_LETTER_RUNS = f"{_LETTER}+|[^{_LETTER}]+"
_MICROS = 1_000_000


def col(name: str) -> Column:
    """Column `name` taken literally (a file's column names may hold dots or backticks)."""
    return sf.col("`" + name.replace("`", "``") + "`")


def _trim(value: Column) -> Column:
    return sf.regexp_replace(value, _EDGES, "")


def _name(value: Column) -> Column:
    return sf.regexp_replace(_trim(value), _RUNS, " ")


def _extract(value: Column, pattern: str, group: int) -> Column:
    """Group `group` of `pattern`'s match in `value`; null without a match, as in Polars
    (Spark's `regexp_extract` gives an empty string, as it does for a group that took no
    part, which reads as null here too: no caller tells an empty group from none)."""
    regex = java_regex(pattern)
    extracted = sf.regexp_extract(value, regex, group)
    return sf.when(value.rlike(regex), sf.nullif(extracted, sf.lit("")))


def _lookup(value: Column, mapping: Mapping[str, object]) -> Column:
    """`value` looked up in `mapping`; null when it is not a key."""
    table = sf.create_map(*(sf.lit(item) for pair in mapping.items() for item in pair))
    return sf.try_element_at(table, value)


def _nonblank(value: Column) -> Column:
    return sf.when(sf.length(value) > 0, value)


def trimmed(column: str) -> Column:
    """`column` without leading and trailing white space."""
    return _trim(col(column)).alias(column)


def email(column: str) -> Column:
    """Trimmed, lower-case email; empty strings become null."""
    return _nonblank(sf.lower(_trim(col(column)))).alias(column)


def phone_e164(column: str, country_code: str = "1") -> Column:
    """E.164 phone (`+15551234567`) from any punctuation style; unparseable becomes null."""
    digits = sf.regexp_replace(col(column), _NOT_DIGIT, "")
    length = sf.length(digits)
    return (
        sf.when(length == 10, sf.concat(sf.lit("+" + country_code), digits))
        .when((length == 11) & digits.startswith(country_code), sf.concat(sf.lit("+"), digits))
        .alias(column)
    )


def name(column: str) -> Column:
    """Trimmed name with inner runs of white space collapsed."""
    return _name(col(column)).alias(column)


@cache
def _title_case() -> dict[str, str]:
    """Each character whose title case is not its upper case (`ß` -> `Ss`, `ǆ` -> `ǅ`,
    `ﬁ` -> `Fi`): Spark has upper case only."""
    chars = (chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    return {c: c.title() for c in chars if c.title() != c.upper()}


def _titled(value: Column) -> Column:
    """Each run of letters with its first in title case (Polars' `to_titlecase` of
    lower-case text)."""

    def titled(run: Column) -> Column:
        first = sf.substring(run, 1, 1)
        title = sf.coalesce(_lookup(first, _title_case()), sf.upper(first))
        return sf.when(
            run.rlike(f"^{_LETTER}"), sf.concat(title, sf.substring(run, 2, 2**31 - 1))
        ).otherwise(run)

    runs = sf.regexp_extract_all(value, sf.lit(_LETTER_RUNS), 0)
    return sf.array_join(sf.transform(runs, titled), "")


def proper_name(column: str) -> Column:
    """`name`, re-cased when typed in capitals (`O'BRIEN` -> `O'Brien`).

    A name without a lower-case letter is re-cased: each letter at the start or after a
    character that is not a letter (space, hyphen, apostrophe, digit...) upper-case, every
    other letter lower-case. A name with any lower-case letter is kept as typed, so
    `McBride` stays; a shouted `MCBRIDE` becomes `Mcbride`. A blank name becomes null.
    """
    cleaned = _name(col(column))
    lowered = sf.lower(cleaned)
    shouted = (cleaned == sf.upper(cleaned)) & (cleaned != lowered)
    return (
        sf.when(sf.length(cleaned) == 0, sf.lit(None))
        .when(shouted, _titled(lowered))
        .otherwise(cleaned)
        .alias(column)
    )


def split_last_first(
    column: str, first: str = "first_name", last: str = "last_name"
) -> tuple[Column, Column]:
    """First and last name from a full name: `Last, First` when it holds a comma, else
    `First Last` with the last word as the last name (`Mary Ann Lee` -> `Mary Ann`, `Lee`).

    Both parts are trimmed with inner white space collapsed; a missing part is null (a
    one-word name is a first name).
    """
    full = _name(col(column))
    has_comma, has_space = full.contains(","), full.contains(" ")
    first_part = (
        sf.when(has_comma, _extract(full, "^[^,]*,(.*)$", 1))
        .when(has_space, _extract(full, "^(.*) [^ ]+$", 1))
        .otherwise(full)
    )
    last_part = sf.when(has_comma, _extract(full, "^([^,]*),", 1)).when(
        has_space, _extract(full, "([^ ]+)$", 1)
    )
    return _nonblank(_trim(first_part)).alias(first), _nonblank(_trim(last_part)).alias(last)


def date_any(column: str) -> Column:
    """A date from any of the vendors' styles (`NUMERIC_DATES`, `NAMED_DATES`); two-digit
    years, other styles and impossible dates (`02/30/2024`) become null."""
    text = _name(col(column))

    def iso(pattern: str, year: int, month: Column, day: int) -> Column:
        # Parts are at most two digits, so padding never cuts one.
        return sf.when(
            text.rlike(java_regex(pattern)),
            sf.concat(
                _extract(text, pattern, year),
                sf.lit("-"),
                sf.lpad(month.cast("string"), 2, "0"),
                sf.lit("-"),
                sf.lpad(_extract(text, pattern, day), 2, "0"),
            ),
        )

    candidates = [iso(p, y, _extract(text, p, m), d) for p, y, m, d in NUMERIC_DATES] + [
        iso(p, y, _lookup(sf.lower(_extract(text, p, m)), MONTHS), d) for p, y, m, d in NAMED_DATES
    ]
    return sf.try_to_date(sf.coalesce(*candidates), "yyyy-MM-dd").alias(column)


def timestamp_utc(column: str) -> Column:
    """A UTC timestamp (microseconds) from ISO 8601 text (`TIMESTAMP`); fractions beyond
    microseconds are cut off; anything else, or an impossible time, becomes null.

    Read as Polars (chrono) reads it: a 60th second is the first of the next minute, and
    any offset under 24 hours applies (Spark's parser stops at 18).
    """
    text = sf.upper(_trim(col(column)))

    def part(group: int) -> Column:
        return _extract(text, TIMESTAMP, group)

    seconds = sf.coalesce(part(3), sf.lit(":00"))
    leap = seconds == ":60"
    fraction = sf.substring(
        sf.concat(sf.coalesce(sf.regexp_replace(part(4), "^[.]", ""), sf.lit("")), sf.lit("0" * 6)),
        1,
        6,
    )
    local = sf.try_to_timestamp(
        sf.concat(
            part(1),
            sf.lit("T"),
            part(2),
            sf.when(leap, sf.lit(":59")).otherwise(seconds),
            sf.lit("."),
            fraction,
            sf.lit("Z"),
        ),
        sf.lit("yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"),
    )
    offset = sf.coalesce(part(5), sf.lit("Z"))
    offset = sf.when(offset == "Z", sf.lit("+00:00")).otherwise(offset)
    hours = sf.substring(offset, 2, 2).cast("bigint")
    minutes = sf.substring(offset, -2, 2).cast("bigint")
    sign = sf.when(sf.substring(offset, 1, 1) == "-", -1).otherwise(1)
    micros = (
        sf.unix_micros(local)
        + sf.when(leap, _MICROS).otherwise(0)
        - sign * (hours * 60 + minutes) * 60 * _MICROS
    )
    return sf.when((hours < 24) & (minutes < 60), sf.timestamp_micros(micros)).alias(column)


def boolean_any(column: str) -> Column:
    """True or false from `BOOLEANS` (`Yes`, `N`, `true`, `0`...), any case; else null."""
    return _lookup(sf.lower(_trim(col(column))), BOOLEANS).alias(column)


def whole_number(column: str) -> Column:
    """A 64-bit integer from text like `1234`, `1,234` or `+12`; misplaced commas
    (`2,8380`), decimals and overflow become null."""
    text = _trim(col(column))
    digits = sf.regexp_replace(sf.regexp_replace(text, ",", ""), "^[+]", "")
    return sf.when(text.rlike(java_regex(WHOLE_NUMBER)), digits.try_cast("bigint")).alias(column)


def country_code(column: str) -> Column:
    """ISO 3166-1 alpha-2 code (`US`) from a country's name or code as written (`U.S.`,
    `united states`, `UK`); trimmed, any case, dots ignored. Unknown becomes null."""
    written = sf.regexp_replace(
        sf.regexp_replace(sf.upper(_trim(col(column))), "[.]", ""), _RUNS, " "
    )
    return _lookup(written, COUNTRIES).alias(column)
