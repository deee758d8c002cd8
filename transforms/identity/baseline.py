"""The email-only exact-match baseline that identity resolution is compared against."""

import polars as pl

from transforms.polars import normalise

_POSITION = "_position"


def email_only(records: pl.DataFrame) -> pl.DataFrame:
    """Cluster records sharing a normalised email; records without one stay alone.

    Emails compare trimmed and lower-cased; a blank email counts as none.

    Args:
        records: `source`, `source_record_id` and a nullable `email` per record.

    Returns:
        `source`, `source_record_id`, `customer_key` (Int64), sorted by record. Keys run
        1.. in the order of each cluster's first record, so equal input gives equal keys.
    """
    email = normalise.email("email")
    position = pl.col(_POSITION)
    return (
        records.select("source", "source_record_id", "email")
        .sort("source", "source_record_id")
        .with_row_index(_POSITION)
        .with_columns(
            customer_key=pl.when(email.is_null())
            .then(position)
            .otherwise(position.min().over(email))
            .rank("dense")
            .cast(pl.Int64)
        )
        .select("source", "source_record_id", "customer_key")
    )
