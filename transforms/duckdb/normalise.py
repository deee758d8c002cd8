"""Normalisation of identity attributes, shared by every staging transform.

Each function returns a DuckDB expression, so the same rule runs inside any transform; each
reads values exactly as its twin in transforms/polars/normalise.py does. Patterns are the
Polars module's text, read through `re2_regex`.

Case mapping is the one place DuckDB and Polars differ by design: DuckDB maps code point to
code point, Polars (Rust) by the full Unicode rules. The differences a name or an email can
meet are spelled out here (`İ`, a word-final `Σ`, `ß` and the ligatures, title-case
digraphs); letters newer than DuckDB's Unicode tables, and upper-casing that expands a
character (`ß` -> `SS`) outside `proper_name`'s test, are left as DuckDB has them.
"""

from __future__ import annotations

from functools import cache

from duckdb import Expression, SQLExpression

from transforms.duckdb.regex import re2_regex
from transforms.duckdb.sql import literal, quoted
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


def _pattern(rust: str) -> str:
    return literal(re2_regex(rust))


_EDGES = _pattern(f"^{SPACE}+|{SPACE}+$")
_RUNS = _pattern(f"{SPACE}+")
# What Rust's `is_alphabetic` takes for a letter, as near as RE2's classes come (its marks
# with the Other_Alphabetic property, e.g. U+0345, are not letters here).
_LETTER = "\\pL\\p{Nl}"


def _expression(sql: str, column: str) -> Expression:
    return SQLExpression(sql).alias(column)


def _trim(value: str) -> str:
    return f"regexp_replace({value}, {_EDGES}, '', 'g')"


def _collapse(value: str) -> str:
    return f"regexp_replace({value}, {_RUNS}, ' ', 'g')"


def _lower(value: str) -> str:
    """`lower`, with the two contexts Rust lower-cases differently: `İ` becomes two code
    points, and `Σ` after a letter and not before one the final `ς`."""
    dotted = f"replace({value}, '\u0130', 'i\u0307')"
    final_sigma = (
        f"regexp_replace({dotted}, '([{_LETTER}])\u03a3([^{_LETTER}]|$)', '\\1\u03c2\\2', 'g')"
    )
    return f"lower({final_sigma})"


def _extract(value: str, pattern: str, group: int) -> str:
    """Group `group` of `pattern`'s match in `value`; null without a match, as in Polars
    (DuckDB's `regexp_extract` gives an empty string)."""
    regex = _pattern(pattern)
    extracted = f"regexp_extract({value}, {regex}, {group})"
    return f"CASE WHEN regexp_matches({value}, {regex}) THEN {extracted} END"


def _case(value: str, mapping: dict[str, object]) -> str:
    """`value` looked up in `mapping`; null when it is not a key."""
    whens = " ".join(f"WHEN {literal(k)} THEN {_constant(v)}" for k, v in mapping.items())
    return f"CASE {value} {whens} END"


def _constant(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return literal(str(value))


def trimmed(column: str) -> Expression:
    """`column` without leading and trailing white space."""
    return _expression(_trim(quoted(column)), column)


def email(column: str) -> Expression:
    """Trimmed, lower-case email; empty strings become null."""
    return _expression(f"nullif({_lower(_trim(quoted(column)))}, '')", column)


def phone_e164(column: str, country_code: str = "1") -> Expression:
    """E.164 phone (`+15551234567`) from any punctuation style; unparseable becomes null."""
    digits = f"regexp_replace({quoted(column)}, {_pattern('[^0-9]')}, '', 'g')"
    return _expression(
        f"CASE WHEN length({digits}) = 10 THEN {literal('+' + country_code)} || {digits}"
        f" WHEN length({digits}) = 11 AND starts_with({digits}, {literal(country_code)})"
        f" THEN '+' || {digits} END",
        column,
    )


def _name(value: str) -> str:
    return _collapse(_trim(value))


def name(column: str) -> Expression:
    """Trimmed name with inner runs of white space collapsed."""
    return _expression(_name(quoted(column)), column)


@cache
def _multi_letter_upper() -> str:
    """The characters whose upper case is several (`ß` -> `SS`), as an RE2 class: Polars
    never finds them equal to their upper case."""
    chars = (chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    return "[" + "".join(c for c in chars if len(c.upper()) > 1) + "]"


@cache
def _title_case() -> str:
    """SQL map from each character whose title case is not DuckDB's upper case (`ß` -> `Ss`,
    `ǆ` -> `ǅ`, `ﬁ` -> `Fi`) to its title case."""
    chars = (chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    special = {c: c.title() for c in chars if c.title() != c.upper() or len(c.upper()) > 1}
    return "MAP {" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in special.items()) + "}"


def _titled(value: str) -> str:
    """Each run of letters with its first in title case (Polars' `to_titlecase` of
    lower-case text)."""
    runs = f"regexp_extract_all({value}, '[{_LETTER}]+|[^{_LETTER}]+')"
    first = f"coalesce({_title_case()}[run[1]], upper(run[1]))"
    titled = f"CASE WHEN regexp_matches(run, '^[{_LETTER}]') THEN {first} || run[2:] ELSE run END"
    return f"array_to_string(list_transform({runs}, lambda run: {titled}), '')"


def _proper_name(value: str) -> str:
    cleaned = _name(value)
    shouted = (
        f"({cleaned} = upper({cleaned}) AND {cleaned} <> {_lower(cleaned)}"
        f" AND NOT regexp_matches({cleaned}, {literal(_multi_letter_upper())}))"
    )
    return (
        f"CASE WHEN length({cleaned}) = 0 THEN NULL WHEN {shouted}"
        f" THEN {_titled(_lower(cleaned))} ELSE {cleaned} END"
    )


def proper_name(column: str) -> Expression:
    """`name`, re-cased when typed in capitals (`O'BRIEN` -> `O'Brien`).

    A name without a lower-case letter is re-cased: each letter at the start or after a
    character that is not a letter (space, hyphen, apostrophe, digit...) upper-case, every
    other letter lower-case. A name with any lower-case letter is kept as typed, so
    `McBride` stays; a shouted `MCBRIDE` becomes `Mcbride`. A blank name becomes null.
    """
    return _expression(_proper_name(quoted(column)), column)


def split_last_first(
    column: str, first: str = "first_name", last: str = "last_name"
) -> tuple[Expression, Expression]:
    """First and last name from a full name: `Last, First` when it holds a comma, else
    `First Last` with the last word as the last name (`Mary Ann Lee` -> `Mary Ann`, `Lee`).

    Both parts are trimmed with inner white space collapsed; a missing part is null (a
    one-word name is a first name).
    """
    full = _name(quoted(column))
    has_comma, has_space = f"contains({full}, ',')", f"contains({full}, ' ')"
    first_part = (
        f"CASE WHEN {has_comma} THEN {_extract(full, '^[^,]*,(.*)$', 1)}"
        f" WHEN {has_space} THEN {_extract(full, '^(.*) [^ ]+$', 1)} ELSE {full} END"
    )
    last_part = (
        f"CASE WHEN {has_comma} THEN {_extract(full, '^([^,]*),', 1)}"
        f" WHEN {has_space} THEN {_extract(full, '([^ ]+)$', 1)} END"
    )
    return (
        _expression(f"nullif({_trim(first_part)}, '')", first),
        _expression(f"nullif({_trim(last_part)}, '')", last),
    )


def date_any(column: str) -> Expression:
    """A date from any of the vendors' styles (`NUMERIC_DATES`, `NAMED_DATES`); two-digit
    years, other styles and impossible dates (`02/30/2024`) become null."""
    text = _collapse(_trim(quoted(column)))

    def iso(pattern: str, year: int, month: str, day: int) -> str:
        day_text = _extract(text, pattern, day)
        return (
            f"CASE WHEN regexp_matches({text}, {_pattern(pattern)}) THEN"
            f" {_extract(text, pattern, year)} || '-' || lpad({month}, 2, '0')"
            f" || '-' || lpad({day_text}, 2, '0') END"
        )

    months = {k: str(v) for k, v in MONTHS.items()}
    candidates = [iso(p, y, _extract(text, p, m), d) for p, y, m, d in NUMERIC_DATES] + [
        iso(p, y, _case(_lower(_extract(text, p, m)), dict(months)), d)
        for p, y, m, d in NAMED_DATES
    ]
    return _expression(f"TRY_CAST(coalesce({', '.join(candidates)}) AS DATE)", column)


def timestamp_utc(column: str) -> Expression:
    """A UTC timestamp (microseconds) from ISO 8601 text (`TIMESTAMP`); fractions beyond
    microseconds are cut off; anything else, or an impossible time, becomes null."""
    text = f"upper({_trim(quoted(column))})"

    def part(group: int) -> str:
        # An optional group that took no part is null; one that did is never empty.
        return f"nullif({_extract(text, TIMESTAMP, group)}, '')"

    def number(value: str, start: int, length: int) -> str:
        return f"CAST(substr({value}, {start}, {length}) AS INTEGER)"

    hours, minutes = number(part(2), 1, 2), number(part(2), 4, 2)
    seconds = f"coalesce({number(part(3), 2, 2)}, 0)"
    micros = f"CAST(rpad(coalesce(substr({part(4)}, 2, 6), ''), 6, '0') AS INTEGER)"
    offset = f"coalesce(nullif({part(5)}, 'Z'), '+00:00')"
    offset_hours, offset_minutes = number(offset, 2, 2), number(offset, length=2, start=-2)
    sign = f"CASE WHEN starts_with({offset}, '-') THEN -1 ELSE 1 END"
    # As chrono reads the canonical text Polars builds: hours to 23, minutes to 59, a leap
    # second (60) one more second, offsets within a day.
    valid = (
        f"{hours} <= 23 AND {minutes} <= 59 AND {seconds} <= 60"
        f" AND {offset_hours} <= 23 AND {offset_minutes} <= 59"
    )
    local = (
        f"TRY_CAST({part(1)} AS DATE) + to_hours({hours}) + to_minutes({minutes})"
        f" + to_microseconds({seconds} * 1000000 + {micros})"
    )
    utc = f"{local} - to_minutes({sign} * ({offset_hours} * 60 + {offset_minutes}))"
    return _expression(f"CASE WHEN {valid} THEN timezone('UTC', {utc}) END", column)


def boolean_any(column: str) -> Expression:
    """True or false from `BOOLEANS` (`Yes`, `N`, `true`, `0`...), any case; else null."""
    answer = _lower(_trim(quoted(column)))
    return _expression(_case(answer, dict(BOOLEANS)), column)


def whole_number(column: str) -> Expression:
    """A 64-bit integer from text like `1234`, `1,234` or `+12`; misplaced commas
    (`2,8380`), decimals and overflow become null."""
    text = _trim(quoted(column))
    digits = f"regexp_replace(replace({text}, ',', ''), '^[+]', '')"
    return _expression(
        f"CASE WHEN regexp_matches({text}, {_pattern(WHOLE_NUMBER)})"
        f" THEN TRY_CAST({digits} AS BIGINT) END",
        column,
    )


def country_code(column: str) -> Expression:
    """ISO 3166-1 alpha-2 code (`US`) from a country's name or code as written (`U.S.`,
    `united states`, `UK`); trimmed, any case, dots ignored. Unknown becomes null."""
    written = _collapse(f"replace(upper({_trim(quoted(column))}), '.', '')")
    return _expression(_case(written, dict(COUNTRIES)), column)
