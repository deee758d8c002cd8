"""The lookup normalisers give what staging's Polars rules give, value for value: on generated
strings (white space of every kind, punctuation, plus signs, leading zeros, other scripts'
digits and letters, blank) and on the simulator's own emails, phones and record ids with its
noise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import lookup
from simulator.noise import PHONE_STYLES, phone_styles, stray_case, typo
from simulator.population import generate_people
from transforms.polars import normalise

Normaliser = Callable[[str], str | None]
Rule = Callable[[str], pl.Expr]

# Each lookup normaliser and the staging rule it stands for.
RULES: dict[str, tuple[Normaliser, Rule]] = {
    "email": (lookup.email, normalise.email),
    "phone": (lookup.phone, normalise.phone_e164),
    "record_id": (lookup.record_id, normalise.trimmed),
}
SPACES = "\t\n\v\f\r \u00a0"  # staging's white space
OTHER_SPACES = "\u1680\u2003\u2028\u3000\u0085\u001c\ufeff\u200b"  # not to staging: kept
PUNCTUATION = "+-().,/_@'\"#*"
OTHER_DIGITS = "\u0663\u0966\uff10\uff11\uff12\u00b3"  # Arabic, Devanagari, full width, ³: not 0-9
# Letters whose lower case is longer or depends on context, and letters Unicode added after
# Python 3.11's release of it (14.0), which only Polars lower-cases.
LETTERS = "\u0130\u03a3\u03c3\u03c2\u00df\u1e9e\u01c5\u00c9\u0149\ufb00\ua7cb\ua7dc\U00010d50\u1c89"
# One character: each kind above about as often as any ASCII or any other character.
# (Joined from lists: `st.text` would draw the rarer, higher code points far less often.)
CHARACTER = st.one_of(
    st.sampled_from(SPACES),
    st.sampled_from(OTHER_SPACES),
    st.sampled_from(PUNCTUATION),
    st.sampled_from("0123456789"),
    st.sampled_from(OTHER_DIGITS),
    st.sampled_from(LETTERS),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(codec="utf-8"),
)
ANY_TEXT = st.lists(CHARACTER, max_size=24).map("".join)
# Phone-like: 9 to 12 digits, each followed by nothing, a separator or a digit of another
# script.
PHONE_LIKE = st.lists(
    st.tuples(
        st.sampled_from("0123456789"), st.sampled_from(["", "", "", *OTHER_DIGITS, *"+-(). "])
    ),
    min_size=9,
    max_size=12,
).map(lambda pairs: "".join(digit + after for digit, after in pairs))
EMAIL_LIKE = st.from_regex(
    r"[A-Za-z0-9._%+-]{1,12}@[A-Za-z0-9-]{1,10}\.[A-Za-z]{2,4}", fullmatch=True
)
PADDING = st.lists(st.sampled_from(SPACES + OTHER_SPACES), max_size=3).map("".join)
VALUES = st.one_of(
    ANY_TEXT,
    st.tuples(PADDING, st.one_of(PHONE_LIKE, EMAIL_LIKE, ANY_TEXT), PADDING).map("".join),
)


def by_polars(rule: Rule, values: Sequence[str]) -> list[str | None]:
    """Each value through the staging rule, as staging runs it (a column); a blank result
    is None, as the lookup normalisers answer for no identifier."""
    frame = pl.DataFrame({"value": list(values)}, schema={"value": pl.String})
    return [v or None for v in frame.select(rule("value").alias("value"))["value"].to_list()]


def assert_same(kind: str, values: Sequence[str]) -> None:
    normaliser, rule = RULES[kind]
    actual = [normaliser(v) for v in values]
    expected = by_polars(rule, values)
    differences = [(v, a, e) for v, a, e in zip(values, actual, expected, strict=True) if a != e]
    assert not differences, f"{kind}: (value, lookup, staging) {differences[:10]}"


@pytest.mark.parametrize("kind", RULES)
@settings(max_examples=300, deadline=None, database=None)
@given(values=st.lists(VALUES, min_size=1, max_size=40))
def test_normalises_generated_strings_as_staging(kind: str, values: list[str]) -> None:
    assert_same(kind, values)


@cache
def simulated_identifiers() -> dict[str, list[str]]:
    """The simulator's people's emails and phones, and record ids shaped like its sources',
    in the spellings its noise writes them, with padding."""
    rng = np.random.default_rng(9)
    people = generate_people(400, seed=9)
    emails: list[str] = [*people["email"].to_list()]
    emails += [v for v in stray_case(emails, rng, rate=1.0) if v is not None]
    emails += [v for v in typo(emails, rng, rate=0.5) if v is not None]
    e164 = people["phone"].to_list() + people["home_phone"].drop_nulls().to_list()
    phones: list[str] = [*e164]
    for style in PHONE_STYLES:
        phones += [v for v in phone_styles(e164, rng, styles=(style,)) if v is not None]
    record_ids = [f"C{n:08d}" for n in range(1, 400)] + [f"SP{n}" for n in range(7, 400)]
    pads = ("", " ", "\t", "\u00a0", " \r\n")

    def padded(values: list[str]) -> list[str]:
        return [pads[i % 5] + v + pads[(i // 5) % 5] for i, v in enumerate(values)]

    return {
        "email": emails + padded(emails),
        "phone": phones + padded(phones),
        "record_id": record_ids + padded(record_ids) + [v.lower() for v in record_ids],
    }


@pytest.mark.parametrize("kind", RULES)
def test_normalises_simulated_identifiers_as_staging(kind: str) -> None:
    values = simulated_identifiers()[kind]
    assert len(values) > 1000
    assert_same(kind, values)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("email", " Ann@Example.COM\u00a0", "ann@example.com"),
        ("email", "\u2003ann@example.com", "\u2003ann@example.com"),
        ("email", "\u0130STANBUL@EXAMPLE.COM", "i\u0307stanbul@example.com"),
        ("email", "\ua7cb@EXAMPLE.COM", "\u0264@example.com"),  # Unicode 16: Polars's rule
        ("email", " \t\u00a0", None),
        ("phone", "+1 (555) 123-4567", "+15551234567"),
        ("phone", "555.012.3456", "+15550123456"),
        ("phone", "0555 123 4567", None),  # 11 digits, not country 1
        ("phone", "+44 20 7946 0958", None),
        ("phone", "\uff15\uff15\uff15" + "1234567", None),  # full-width digits are not 0-9
        ("record_id", " C00000845\n", "C00000845"),
        ("record_id", "\u00a0", None),
    ],
)
def test_normalises_known_spellings(kind: str, value: str, expected: str | None) -> None:
    normaliser, _ = RULES[kind]
    assert normaliser(value) == expected
    assert by_polars(RULES[kind][1], [value]) == [expected]


def test_an_ascii_email_never_runs_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise AssertionError("the Polars rule ran")

    monkeypatch.setattr(lookup, "_by_polars", fail)
    assert lookup.email("\u00a0 First1.Last1@Example.Com ") == "first1.last1@example.com"
