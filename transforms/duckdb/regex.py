"""Regular expressions written for Polars (Rust's `regex`), spelled so DuckDB (RE2) reads
them alike.

RE2 reads some of the same text differently, or not at all:

- `\\d` and `\\s` are ASCII-only in RE2 and Unicode-wide in Rust: `\\d` becomes `\\p{Nd}`,
  `\\s` the class of Unicode white space (RE2 knows no `White_Space` property);
- RE2 spells a code point `\\x{...}` only: Rust's `\\u00a0` and `\\U0001F600` become that.

`$`, `\\v` and the other escapes mean the same in both. This covers the syntax the
transforms and contract rules use (classes, escapes, anchors, groups); a construct RE2 cannot
read alike (`\\w`, `\\b`, `\\S` in a class) is refused rather than matched differently.
"""

from __future__ import annotations

import re

# Unicode white space, what Rust's `\s` (and Polars' `strip_chars()`) take for it, as the
# inside of an RE2 class.
WHITE_SPACE = (
    "\\t\\n\\v\\f\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)

_CODE_POINT = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|[uU]\{([0-9A-Fa-f]+)\})")


def re2_regex(pattern: str) -> str:
    """`pattern`, read by Rust's `regex`, as an RE2 regular expression that matches alike.

    Raises:
        ValueError: `pattern` uses a construct RE2 cannot read as Rust does.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            code_point = _CODE_POINT.match(pattern, i)
            if code_point:
                out.append("\\x{" + next(g for g in code_point.groups() if g) + "}")
                i = code_point.end()
                continue
            out.append(_escape(pattern[i + 1], in_class, pattern))
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A `]` (after an optional `^`) right after the opening bracket is a literal.
            start = i + 1 + pattern.startswith("^", i + 1)
            if pattern.startswith("]", start):
                out.append(pattern[i : start + 1])
                i = start + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _escape(escaped: str, in_class: bool, pattern: str) -> str:
    match escaped:
        case "d":
            return "\\p{Nd}"
        case "D":
            return "\\P{Nd}"
        case "s":
            return WHITE_SPACE if in_class else f"[{WHITE_SPACE}]"
        case "S" if not in_class:
            return f"[^{WHITE_SPACE}]"
        case "S" | "w" | "W" | "b" | "B":
            raise ValueError(f"RE2 cannot read \\{escaped} as Rust does, in {pattern!r}")
        case _:
            return "\\" + escaped
