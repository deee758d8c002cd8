"""The golden record: one row per customer key, each attribute chosen by survivorship rules.

Sources, most trusted first (`SOURCE_TRUST`): crm, loyalty, marketing, orders, tickets,
legacy, clickstream. Legacy ranks low because it is frozen and its contacts go stale.

| Attribute | Winning value (ties broken left to right) |
|---|---|
| first_name, last_name | most frequent* -> most trusted source -> most recent -> smallest value |
| email | most trusted source -> most recent -> most frequent -> smallest value |
| phone | most frequent* -> most trusted source -> most recent -> smallest value |
| address | most recent -> most trusted source -> smallest source_record_id |

*Frequency counts the records of live sources only: the frozen legacy export
(`FROZEN_SOURCES`) never learns of a change, so its copies would outvote a name change
the CRM has seen. Its value still wins where no live record has one.

The address (street, city, state, postcode, country) is taken whole from one record, of
the records that have a street.

Why: a typo is a one-off, so the most frequent spelling of a name is usually the true one;
the CRM is kept current when someone changes email, so trust beats frequency there; a
household landline sits on fewer of a person's records than their mobile; an address is
only coherent taken whole from one record, and people move, so the newest wins.

"Most trusted source" and "most recent" compare, for each candidate value, the record that
carries it best: the most trusted, then most recently observed (`observed_at`, unknown
counted oldest). That record is also the value's `<attribute>_source`,
"<source>:<source_record_id>"; `address_source` is the record the address came from. A
person with no value for an attribute gets null for it and its source.
"""

from __future__ import annotations

import polars as pl

SOURCE_TRUST: tuple[str, ...] = (
    "crm",
    "loyalty",
    "marketing",
    "orders",
    "tickets",
    "legacy",
    "clickstream",
)
FROZEN_SOURCES: tuple[str, ...] = ("legacy",)

KEY, SOURCE, RECORD_ID, OBSERVED_AT = "customer_key", "source", "source_record_id", "observed_at"
NAMES = ("first_name", "last_name")
ADDRESS = ("street", "city", "state", "postcode", "country")

_TRUST, _COUNT, _BEST = "_trust", "_count", "_best"
ACTIVITY_SCHEMA = pl.Schema(
    {
        KEY: pl.Int64(),
        SOURCE: pl.String(),
        "records": pl.Int64(),
        "first_seen_at": pl.Datetime("us", "UTC"),
        "last_seen_at": pl.Datetime("us", "UTC"),
    }
)
# Every set of sources, as the bit set of their trust ranks -> their names, sorted.
_SOURCE_SETS = {
    bits: ",".join(sorted(s for rank, s in enumerate(SOURCE_TRUST) if bits & 1 << rank))
    for bits in range(1, 1 << len(SOURCE_TRUST))
}


def golden_records(records: pl.DataFrame, activity: pl.DataFrame | None = None) -> pl.DataFrame:
    """One golden record per `customer_key` from all of its source records.

    Args:
        records: one row per source record: `customer_key`, `source`, `source_record_id`,
            first_name, last_name, email, phone, street, city, state, postcode, country
            (normalised) and `observed_at`.
        activity: records with none of those attributes (events), counted rather than
            listed: `customer_key`, `source`, `records`, `first_seen_at` and
            `last_seen_at` (of their `observed_at`). They count in `source_records`,
            `sources` and the seen range as that many records would; a key with only
            such records gets a golden record without attributes.

    Returns:
        `customer_key`; each of first_name, last_name, email, phone with its
        `<attribute>_source`; street, city, state, postcode, country and `address_source`;
        `source_records`, `sources` (distinct, sorted, comma-separated), `first_seen_at`
        and `last_seen_at`. Sorted by `customer_key`.

    Raises:
        ValueError: a record's source is not in `SOURCE_TRUST`.
    """
    counted = pl.DataFrame(schema=ACTIVITY_SCHEMA) if activity is None else activity
    _check_sources(pl.concat([records.select(SOURCE), counted.select(SOURCE)]))
    trusted = records.lazy().with_columns(_trust())
    by_frequency = [_COUNT, _TRUST, OBSERVED_AT]
    by_trust = [_TRUST, OBSERVED_AT, _COUNT]
    most_first = [True, False, True]
    trusted_first = [False, True, True]
    attributes = [
        _winning_value(trusted, "first_name", by_frequency, most_first),
        _winning_value(trusted, "last_name", by_frequency, most_first),
        _winning_value(trusted, "email", by_trust, trusted_first),
        _winning_value(trusted, "phone", by_frequency, most_first),
        _winning_address(trusted),
    ]
    golden = _summary(trusted, counted.lazy().with_columns(_trust()))
    for attribute in attributes:
        golden = golden.join(attribute, on=KEY, how="left")
    # The streaming engine runs the group-wise `sort_by(...).first()` picks several times
    # slower than the in-memory one (Polars 2.1, a million records).
    return golden.sort(KEY).select(_columns()).collect(engine="in-memory")


def _trust() -> pl.Expr:
    return (
        pl.col(SOURCE)
        .replace_strict(SOURCE_TRUST, range(len(SOURCE_TRUST)), return_dtype=pl.UInt8)
        .alias(_TRUST)
    )


def _check_sources(records: pl.DataFrame) -> None:
    unknown = (
        records.filter(~pl.col(SOURCE).is_in(SOURCE_TRUST).fill_null(False))
        .get_column(SOURCE)
        .unique()
        .sort()
        .to_list()
    )
    if unknown:
        raise ValueError(
            f"records from unknown source(s) {unknown}; "
            f"golden records rank only {', '.join(SOURCE_TRUST)} (SOURCE_TRUST)"
        )


def _winning_value(
    trusted: pl.LazyFrame, attribute: str, order: list[str], descending: list[bool]
) -> pl.LazyFrame:
    """Each person's winning value of `attribute` and the record it came from.

    `order` ranks a person's candidate values by `_count` (live records carrying it) and
    the `_trust` and `observed_at` of the best record carrying it; the value itself breaks
    what ties remain.
    """
    values = (
        trusted.filter(pl.col(attribute).is_not_null())
        .group_by(KEY, attribute)
        .agg(
            pl.col(SOURCE).is_in(FROZEN_SOURCES).not_().sum().alias(_COUNT),
            _first_by(
                [_TRUST, OBSERVED_AT, SOURCE, RECORD_ID],
                by=[_TRUST, OBSERVED_AT, RECORD_ID],
                descending=[False, True, False],
            ).alias(_BEST),
        )
        .unnest(_BEST)
    )
    return (
        values.group_by(KEY)
        .agg(
            _first_by(
                [attribute, SOURCE, RECORD_ID],
                by=[*order, attribute],
                descending=[*descending, False],
            ).alias(_BEST)
        )
        .unnest(_BEST)
        .select(KEY, attribute, _label().alias(f"{attribute}_source"))
    )


def _winning_address(trusted: pl.LazyFrame) -> pl.LazyFrame:
    """Each person's address, whole from one record: the newest that has a street."""
    return (
        trusted.filter(pl.col("street").is_not_null())
        .group_by(KEY)
        .agg(
            _first_by(
                [*ADDRESS, SOURCE, RECORD_ID],
                by=[OBSERVED_AT, _TRUST, RECORD_ID],
                descending=[True, False, False],
            ).alias(_BEST)
        )
        .unnest(_BEST)
        .select(KEY, *ADDRESS, _label().alias("address_source"))
    )


def _first_by(columns: list[str], by: list[str], descending: list[bool]) -> pl.Expr:
    """The group's row (as a struct of `columns`) that sorts first by `by`, nulls last.

    Chosen by explicit order rather than by row position, so the result does not depend
    on the order the rows arrive in.
    """
    return pl.struct(columns).sort_by(by, descending=descending, nulls_last=True).first()


def _label() -> pl.Expr:
    return pl.concat_str(SOURCE, pl.lit(":"), RECORD_ID)


def _summary(trusted: pl.LazyFrame, activity: pl.LazyFrame) -> pl.LazyFrame:
    # The distinct sources as a bit set, named once per person: joining the names of each
    # person's sources as strings is several times slower at a million records.
    bit = {rank: 1 << rank for rank in range(len(SOURCE_TRUST))}
    listed = trusted.select(
        KEY,
        _TRUST,
        pl.lit(1, pl.Int64).alias("records"),
        pl.col(OBSERVED_AT).alias("first_seen_at"),
        pl.col(OBSERVED_AT).alias("last_seen_at"),
    )
    return (
        pl.concat([listed, activity.select(listed.collect_schema().names())])
        .group_by(KEY)
        .agg(
            pl.col("records").sum().cast(pl.Int64).alias("source_records"),
            pl.col(_TRUST)
            .replace_strict(bit, return_dtype=pl.UInt32)
            .bitwise_or()
            .alias("sources"),
            pl.col("first_seen_at").min(),
            pl.col("last_seen_at").max(),
        )
        .with_columns(pl.col("sources").replace_strict(_SOURCE_SETS, return_dtype=pl.String))
    )


def _columns() -> list[str]:
    chosen = [column for name in (*NAMES, "email", "phone") for column in (name, f"{name}_source")]
    return [
        KEY,
        *chosen,
        *ADDRESS,
        "address_source",
        "source_records",
        "sources",
        "first_seen_at",
        "last_seen_at",
    ]
