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


def proper_name(column: str) -> pl.Expr:
    """`name`, re-cased when typed in capitals (`O'BRIEN` -> `O'Brien`).

    A name without a lower-case letter is re-cased: each letter at the start or after a
    character that is not a letter (space, hyphen, apostrophe, digit...) upper-case, every
    other letter lower-case. A name with any lower-case letter is kept as typed, so
    `McBride` stays; a shouted `MCBRIDE` becomes `Mcbride`. A blank name becomes null.
    """
    cleaned = name(column)
    shouted = (cleaned == cleaned.str.to_uppercase()) & (cleaned != cleaned.str.to_lowercase())
    return (
        pl.when(cleaned.str.len_chars() == 0)
        .then(None)
        .when(shouted)
        .then(cleaned.str.to_lowercase().str.to_titlecase())
        .otherwise(cleaned)
        .alias(column)
    )


def split_last_first(
    column: str, first: str = "first_name", last: str = "last_name"
) -> tuple[pl.Expr, pl.Expr]:
    """First and last name from a full name: `Last, First` when it holds a comma, else
    `First Last` with the last word as the last name (`Mary Ann Lee` -> `Mary Ann`, `Lee`).

    Both parts are trimmed with inner white space collapsed; a missing part is null (a
    one-word name is a first name).
    """
    full = name(column)
    has_comma = full.str.contains(",")
    before_comma = full.str.extract("^([^,]*),", 1)
    after_comma = full.str.extract("^[^,]*,(.*)$", 1)
    before_last_word = full.str.extract("^(.*) [^ ]+$", 1)
    last_word = full.str.extract("([^ ]+)$", 1)
    first_part = (
        pl.when(has_comma)
        .then(after_comma)
        .when(full.str.contains(" "))
        .then(before_last_word)
        .otherwise(full)
    )
    last_part = pl.when(has_comma).then(before_comma).when(full.str.contains(" ")).then(last_word)
    return _blank_to_null(first_part).alias(first), _blank_to_null(last_part).alias(last)


def _blank_to_null(part: pl.Expr) -> pl.Expr:
    cleaned = part.str.replace_all(f"^{SPACE}+|{SPACE}+$", "")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


# English month names and abbreviations, lower-case (never the locale's).
MONTHS = {
    **{
        full: number
        for number, full in enumerate(
            (
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ),
            start=1,
        )
    },
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

# The date styles vendors write, as (pattern, group of year, of month, of day). The
# separator decides the order of day and month: slashes are US, dots European.
NUMERIC_DATES = (
    ("^([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})$", 1, 2, 3),  # ISO 2024-10-19, 2024/10/19
    ("^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$", 3, 1, 2),  # US 11/20/2024
    ("^([0-9]{1,2})[.]([0-9]{1,2})[.]([0-9]{4})$", 3, 2, 1),  # European 15.09.2005
)
# Month names: `Nov 20 2024`, `Nov. 20, 2024`, `November 20 2024`, `20 Nov 2024`.
NAMED_DATES = (
    ("^([A-Za-z]+)[.]?,? ([0-9]{1,2}),? ([0-9]{4})$", 3, 1, 2),
    ("^([0-9]{1,2}) ([A-Za-z]+)[.]?,? ([0-9]{4})$", 3, 2, 1),
)


def date_any(column: str) -> pl.Expr:
    """A date from any of the vendors' styles (`NUMERIC_DATES`, `NAMED_DATES`); two-digit
    years, other styles and impossible dates (`02/30/2024`) become null."""
    text = trimmed(column).str.replace_all(f"{SPACE}+", " ")

    def iso(pattern: str, year: int, month: pl.Expr, day: int) -> pl.Expr:
        return pl.when(text.str.contains(pattern)).then(
            pl.concat_str(
                text.str.extract(pattern, year),
                month.cast(pl.String).str.zfill(2),
                text.str.extract(pattern, day).str.zfill(2),
                separator="-",
            )
        )

    candidates = [iso(p, y, text.str.extract(p, m), d) for p, y, m, d in NUMERIC_DATES] + [
        iso(p, y, _month_number(text.str.extract(p, m)), d) for p, y, m, d in NAMED_DATES
    ]
    return pl.coalesce(candidates).str.to_date("%Y-%m-%d", strict=False).alias(column)


def _month_number(month: pl.Expr) -> pl.Expr:
    return month.str.to_lowercase().replace_strict(MONTHS, default=None, return_dtype=pl.Int32)


# ISO 8601 date and time as the data contracts accept it: `T` or a space between, seconds
# and fraction optional, `Z`, `+hh:mm`, `+hhmm` or no offset (read as UTC).
TIMESTAMP = (
    "^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2})(:[0-9]{2})?([.][0-9]+)?"
    "(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)


def timestamp_utc(column: str) -> pl.Expr:
    """A UTC timestamp (microseconds) from ISO 8601 text (`TIMESTAMP`); fractions beyond
    microseconds are cut off; anything else, or an impossible time, becomes null."""
    text = trimmed(column).str.to_uppercase()

    def part(group: int) -> pl.Expr:
        return text.str.extract(TIMESTAMP, group)

    offset = part(5).fill_null("Z").replace("Z", "+00:00")
    canonical = pl.concat_str(
        part(1),
        pl.lit("T"),
        part(2),
        part(3).fill_null(":00"),
        pl.lit("."),
        pl.concat_str(part(4).str.strip_prefix(".").fill_null(""), pl.lit("000000")).str.slice(
            0, 6
        ),
        offset.str.slice(0, 3),
        pl.lit(":"),
        offset.str.slice(-2, 2),
    )
    return canonical.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False
    ).alias(column)


# Yes/no answers as vendors write them, lower-case.
BOOLEANS = {
    "yes": True,
    "y": True,
    "true": True,
    "t": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "f": False,
    "0": False,
}


def boolean_any(column: str) -> pl.Expr:
    """True or false from `BOOLEANS` (`Yes`, `N`, `true`, `0`...), any case; else null."""
    answer = trimmed(column).str.to_lowercase()
    return answer.replace_strict(BOOLEANS, default=None, return_dtype=pl.Boolean).alias(column)


# A whole number, optionally signed, in plain digits or with commas between thousands.
WHOLE_NUMBER = "^[+-]?([0-9]+|[0-9]{1,3}(,[0-9]{3})+)$"


def whole_number(column: str) -> pl.Expr:
    """A 64-bit integer from text like `1234`, `1,234` or `+12`; misplaced commas
    (`2,8380`), decimals and overflow become null."""
    text = trimmed(column)
    digits = text.str.replace_all(",", "").str.strip_prefix("+")
    return (
        pl.when(text.str.contains(WHOLE_NUMBER))
        .then(digits.cast(pl.Int64, strict=False))
        .alias(column)
    )


# Country names and codes as people write them (upper-case, dots removed) to ISO 3166-1
# alpha-2. Kept to the countries customers are likely to write; any other is unknown.
COUNTRIES = {
    **dict.fromkeys(
        (
            "US",
            "USA",
            "UNITED STATES",
            "UNITED STATES OF AMERICA",
            "THE UNITED STATES",
            "THE UNITED STATES OF AMERICA",
            "AMERICA",
        ),
        "US",
    ),
    **dict.fromkeys(("CA", "CAN", "CANADA"), "CA"),
    **dict.fromkeys(("MX", "MEX", "MEXICO", "MÉXICO"), "MX"),
    **dict.fromkeys(
        (
            "GB",
            "GBR",
            "UK",
            "UNITED KINGDOM",
            "THE UNITED KINGDOM",
            "GREAT BRITAIN",
            "BRITAIN",
            "ENGLAND",
            "SCOTLAND",
            "WALES",
            "NORTHERN IRELAND",
        ),
        "GB",
    ),
    **dict.fromkeys(("IE", "IRL", "IRELAND"), "IE"),
    **dict.fromkeys(("FR", "FRA", "FRANCE"), "FR"),
    **dict.fromkeys(("DE", "DEU", "GERMANY", "DEUTSCHLAND"), "DE"),
    **dict.fromkeys(("ES", "ESP", "SPAIN", "ESPAÑA"), "ES"),
    **dict.fromkeys(("IT", "ITA", "ITALY"), "IT"),
    **dict.fromkeys(("NL", "NLD", "NETHERLANDS", "THE NETHERLANDS", "HOLLAND"), "NL"),
    **dict.fromkeys(("AU", "AUS", "AUSTRALIA"), "AU"),
    **dict.fromkeys(("NZ", "NZL", "NEW ZEALAND"), "NZ"),
    **dict.fromkeys(("IN", "IND", "INDIA"), "IN"),
    **dict.fromkeys(("JP", "JPN", "JAPAN"), "JP"),
    **dict.fromkeys(("CN", "CHN", "CHINA"), "CN"),
    **dict.fromkeys(("BR", "BRA", "BRAZIL", "BRASIL"), "BR"),
}


def country_code(column: str) -> pl.Expr:
    """ISO 3166-1 alpha-2 code (`US`) from a country's name or code as written (`U.S.`,
    `united states`, `UK`); trimmed, any case, dots ignored. Unknown becomes null."""
    written = (
        trimmed(column)
        .str.to_uppercase()
        .str.replace_all("[.]", "")
        .str.replace_all(f"{SPACE}+", " ")
    )
    return written.replace_strict(COUNTRIES, default=None, return_dtype=pl.String).alias(column)
