"""Change-data-capture history to current state."""

import polars as pl

DELETE = "delete"


def latest_state(history: pl.LazyFrame, key: str, order_by: list[str]) -> pl.LazyFrame:
    """The newest version of each `key` by `order_by`, with deleted keys removed.

    Args:
        history: captured versions with a `_cdc_operation` column.
        key: the column identifying an entity.
        order_by: columns ordering versions, oldest first (ties broken by the later one).
    """
    return (
        history.sort([key, *order_by], maintain_order=True)
        .group_by(key, maintain_order=True)
        .last()
        .filter(pl.col("_cdc_operation") != DELETE)
    )
