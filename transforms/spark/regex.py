"""Regular expressions written for Polars (Rust's `regex`), spelled so Java reads them alike.

Spark matches with `java.util.regex`, which reads some of the same text differently:

- `\\d`, `\\s`, `\\w` are ASCII-only in Java and Unicode-wide in Rust: `(?U)` widens Java's;
- `\\v` is the vertical tab in Rust and any vertical white space (U+0085, U+2028, ...) in
  Java: it becomes `\\x0B`;
- `$` is the end of the text in Rust and may also match before a final line terminator in
  Java: it becomes `\\z`;
- `.` is any character but a line feed in Rust, and in Java not any line terminator (`\\r`,
  U+0085, U+2028...) either: it becomes `[^\\n]`.

This covers the syntax the transforms and contract rules use (classes, escapes, anchors,
groups), not every construct either engine knows.
"""

from __future__ import annotations

_UNICODE_CLASSES = frozenset("dDsSwWbB")


def java_regex(pattern: str) -> str:
    """`pattern`, read by Rust's `regex`, as a Java regular expression that matches alike."""
    out: list[str] = []
    unicode_classes = False
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            unicode_classes |= escaped in _UNICODE_CLASSES
            out.append("\\x0B" if escaped == "v" else char + escaped)
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A `]` (after an optional `^`) right after the opening bracket is a literal.
            negated = pattern.startswith("^", i + 1)
            start = i + 1 + negated
            if pattern.startswith("]", start):
                out.append(pattern[i : start + 1])
                i = start + 1
                continue
        elif char == "$":
            char = "\\z"
        elif char == ".":
            char = "[^\\n]"
        out.append(char)
        i += 1
    return ("(?U)" if unicode_classes else "") + "".join(out)
