"""Normalisation of identity attributes, shared by every staging transform.

Each function returns a Polars expression, so the same rule runs inside any transform.
"""

import polars as pl

# White space as every engine reads it alike (regex `\s` differs between Rust, RE2 and Java):
# ASCII space, tab, line feed, carriage return, form feed, vertical tab, and no-break space.
SPACE = "[ \\t\\n\\r\\f\\v\\u00a0]"


def trimmed(column: str) -> pl.Expr:
    """`column` without leading and trailing white space."""
    return pl.col(column).str.replace_all(f"^{SPACE}+|{SPACE}+$", "")


def email(column: str) -> pl.Expr:
    """Trimmed, lower-case email; empty strings become null."""
    cleaned = trimmed(column).str.to_lowercase()
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned).otherwise(None).alias(column)


def phone_e164(column: str, country_code: str = "1") -> pl.Expr:
    """E.164 phone (`+15551234567`) from any punctuation style; unparseable becomes null."""
    digits = pl.col(column).str.replace_all("[^0-9]", "")
    return (
        pl.when(digits.str.len_chars() == 10)
        .then(pl.concat_str(pl.lit("+" + country_code), digits))
        .when((digits.str.len_chars() == 11) & digits.str.starts_with(country_code))
        .then(pl.concat_str(pl.lit("+"), digits))
        .otherwise(None)
        .alias(column)
    )


def name(column: str) -> pl.Expr:
    """Trimmed name with inner runs of white space collapsed."""
    return trimmed(column).str.replace_all(f"{SPACE}+", " ").alias(column)
