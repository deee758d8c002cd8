"""Change-data-capture history to current state."""

import polars as pl

DELETE = "delete"
_IS_NEW = "_is_new"


def latest_state(
    prior: pl.LazyFrame, history: pl.LazyFrame, key: str, order_by: list[str]
) -> pl.LazyFrame:
    """The newest version of each `key`, with deleted keys removed.

    Args:
        prior: the current state before `history` (a staging table's rows; may be empty):
            each of its rows is older than every version in `history`.
        history: newly captured versions with a `_cdc_operation` column.
        key: the column identifying an entity.
        order_by: columns ordering versions in `history`, oldest first, nulls first
            (ties broken by the later one).

    Applying new history to the prior state gives the same result as applying all history
    to an empty one, which is what makes incremental staging equal a full rebuild.
    """
    versions = pl.concat(
        [
            prior.with_columns(pl.lit(False).alias(_IS_NEW)),
            history.with_columns(pl.lit(True).alias(_IS_NEW)),
        ],
        how="diagonal_relaxed",
    )
    return (
        versions.sort([key, _IS_NEW, *order_by], maintain_order=True)
        .group_by(key, maintain_order=True)
        .last()
        .filter(pl.col("_cdc_operation").fill_null("") != DELETE)
        .drop(_IS_NEW)
    )
