"""Normalisation of identity attributes, shared by every staging transform.

Each function returns a DuckDB expression, so the same rule runs inside any transform; each
reads values exactly as its twin in transforms/polars/normalise.py does. An expression's
text (`str(expression)`, without its alias) nests it in SQL: DuckDB would read an alias
inside a function call as a named argument. Patterns are the
Polars module's text, read through `re2_regex`.

Case mapping is the one place DuckDB and Polars differ by design: DuckDB maps code point to
code point, Polars (Rust) by the full Unicode rules. The differences a name or an email can
meet are spelled out here (`İ`, a word-final `Σ`, `ß` and the ligatures, title-case
digraphs); letters newer than DuckDB's Unicode tables, and upper-casing that expands a
character (`ß` -> `SS`) outside `proper_name`'s test, are left as DuckDB has them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
# What Rust's `is_alphabetic` takes for a letter, as near as RE2's classes come: letters,
# letter numbers, and the Other_Alphabetic characters that have a case (U+0345, the circled
# letters). Its other Other_Alphabetic marks (e.g. Devanagari vowel signs) are not letters
# here; no character outside the class changes in upper case.
_LETTER = "\\pL\\p{Nl}\\x{345}\\x{24b6}-\\x{24e9}"


def _let(value: str, name: str, body: Callable[[str], str]) -> str:
    """`body(name)` with `name` bound to `value`, computed once per row (DuckDB computes a
    repeated expression each time it is written). Only for a body without regular
    expressions: inside a lambda, DuckDB compiles a pattern for every row."""
    return f"list_transform([{value}], lambda {name}: {body(name)})[1]"


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


def _lookup(value: str, mapping: Mapping[str, object]) -> str:
    """`value` looked up in `mapping`; null when it is not a key."""
    entries = ", ".join(f"{literal(k)}: {_constant(v)}" for k, v in mapping.items())
    return f"MAP {{{entries}}}[{value}]"


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
def _special_titles() -> dict[str, str]:
    """Each character whose title case is not its one upper-case character (`ß` -> `Ss`,
    `ǆ` -> `ǅ`, `ﬁ` -> `Fi`), to its title case."""
    chars = (chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    return {c: c.title() for c in chars if c.title() != c.upper() or len(c.upper()) > 1}


def _titled(value: str) -> str:
    """Each run of letters with its first in title case (Polars' `to_titlecase` of
    lower-case text). Text holding a character of `_special_titles` takes a slower path."""
    specials = _special_titles()
    whens = " ".join(f"WHEN {literal(c)} THEN {literal(t)}" for c, t in specials.items())

    def titled(text: str, first: str) -> str:
        runs = f"regexp_extract_all({text}, '[{_LETTER}]+|[^{_LETTER}]+')"
        return f"array_to_string(list_transform({runs}, lambda run: {first} || run[2:]), '')"

    def either(text: str) -> str:
        special = literal("[" + "".join(specials) + "]")
        return (
            f"CASE WHEN regexp_matches({text}, {special})"
            f" THEN {titled(text, f'CASE run[1] {whens} ELSE upper(run[1]) END')}"
            f" ELSE {titled(text, 'upper(run[1])')} END"
        )

    return either(value)


def _proper_name(value: str) -> str:
    def recased(cleaned: str) -> str:
        shouted = (
            f"({cleaned} = upper({cleaned}) AND {cleaned} <> {_lower(cleaned)}"
            f" AND NOT regexp_matches({cleaned}, {literal(_multi_letter_upper())}))"
        )
        return (
            f"CASE WHEN length({cleaned}) = 0 THEN NULL WHEN {shouted}"
            f" THEN {_titled(_lower(cleaned))} ELSE {cleaned} END"
        )

    return recased(_name(value))


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

    def first_part(full: str) -> str:
        return (
            f"CASE WHEN contains({full}, ',') THEN {_extract(full, '^[^,]*,(.*)$', 1)}"
            f" WHEN contains({full}, ' ') THEN {_extract(full, '^(.*) [^ ]+$', 1)}"
            f" ELSE {full} END"
        )

    def last_part(full: str) -> str:
        return (
            f"CASE WHEN contains({full}, ',') THEN {_extract(full, '^([^,]*),', 1)}"
            f" WHEN contains({full}, ' ') THEN {_extract(full, '([^ ]+)$', 1)} END"
        )

    full = _name(quoted(column))
    return (
        _expression(f"nullif({_trim(first_part(full))}, '')", first),
        _expression(f"nullif({_trim(last_part(full))}, '')", last),
    )


def _groups(text: str, pattern: str, count: int) -> str:
    """The `count` groups of `pattern`'s match in `text`, as a struct of `g1`, `g2`...
    (empty strings without a match)."""
    names = ", ".join(f"'g{i}'" for i in range(1, count + 1))
    return f"regexp_extract({text}, {_pattern(pattern)}, [{names}])"


def date_any(column: str) -> Expression:
    """A date from any of the vendors' styles (`NUMERIC_DATES`, `NAMED_DATES`); two-digit
    years, other styles and impossible dates (`02/30/2024`) become null."""
    months = {k: str(v) for k, v in MONTHS.items()}

    def candidates(text: str) -> str:
        def iso(pattern: str, year: int, month: str, day: int) -> str:
            return (
                f"CASE WHEN regexp_matches({text}, {_pattern(pattern)}) THEN"
                f" {_extract(text, pattern, year)} || '-' || lpad({month}, 2, '0')"
                f" || '-' || lpad({_extract(text, pattern, day)}, 2, '0') END"
            )

        dates = [iso(p, y, _extract(text, p, m), d) for p, y, m, d in NUMERIC_DATES]
        dates += [
            iso(p, y, _lookup(_lower(_extract(text, p, m)), months), d)
            for p, y, m, d in NAMED_DATES
        ]
        return f"coalesce({', '.join(dates)})"

    text = _collapse(_trim(quoted(column)))
    return _expression(f"TRY_CAST({candidates(text)} AS DATE)", column)


def timestamp_utc(column: str) -> Expression:
    """A UTC timestamp (microseconds) from ISO 8601 text (`TIMESTAMP`); fractions beyond
    microseconds are cut off; anything else, or an impossible time, becomes null."""

    def read(groups: str) -> str:
        def part(group: int) -> str:
            # Without a match, or for an optional group that took no part: null.
            return f"nullif({groups}['g{group}'], '')"

        def number(value: str, start: int, length: int = 2) -> str:
            return f"CAST(substr({value}, {start}, {length}) AS INTEGER)"

        hours, minutes = number(part(2), 1), number(part(2), 4)
        seconds = f"coalesce({number(part(3), 2)}, 0)"
        micros = f"CAST(rpad(coalesce(substr({part(4)}, 2, 6), ''), 6, '0') AS INTEGER)"
        offset = f"coalesce(nullif({part(5)}, 'Z'), '+00:00')"
        offset_hours, offset_minutes = number(offset, 2), number(offset, -2)
        sign = f"CASE WHEN starts_with({offset}, '-') THEN -1 ELSE 1 END"
        # As chrono reads the canonical text Polars builds: hours to 23, minutes to 59, a
        # leap second (60) one more second, offsets within a day.
        valid = (
            f"{hours} <= 23 AND {minutes} <= 59 AND {seconds} <= 60"
            f" AND {offset_hours} <= 23 AND {offset_minutes} <= 59"
        )
        local = (
            f"TRY_CAST({part(1)} AS DATE) + to_hours({hours}) + to_minutes({minutes})"
            f" + to_microseconds({seconds} * 1000000 + {micros})"
        )
        utc = f"{local} - to_minutes({sign} * ({offset_hours} * 60 + {offset_minutes}))"
        return f"CASE WHEN {valid} THEN timezone('UTC', {utc}) END"

    text = f"upper({_trim(quoted(column))})"
    return _expression(_let(_groups(text, TIMESTAMP, 5), "_groups", read), column)


def boolean_any(column: str) -> Expression:
    """True or false from `BOOLEANS` (`Yes`, `N`, `true`, `0`...), any case; else null."""
    answer = _lower(_trim(quoted(column)))
    return _expression(_lookup(answer, BOOLEANS), column)


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
    return _expression(_lookup(written, COUNTRIES), column)
