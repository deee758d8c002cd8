"""Change-data-capture history to current state, the twin of transforms/polars/cdc.py."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as sf

DELETE = "delete"
_IS_NEW = "_is_new"
_LATEST = "_latest"


def latest_state(prior: DataFrame, history: DataFrame, key: str, order_by: list[str]) -> DataFrame:
    """The newest version of each `key`, with deleted keys removed.

    Args:
        prior: the current state before `history` (a staging table's rows; may be empty):
            each of its rows is older than every version in `history`.
        history: newly captured versions with a `_cdc_operation` column.
        key: the column identifying an entity.
        order_by: columns ordering versions in `history`, oldest first, nulls first.
            Versions tied on them are ordered by their other columns, in column order: Spark
            keeps no input order to break ties with.

    Applying new history to the prior state gives the same result as applying all history
    to an empty one, which is what makes incremental staging equal a full rebuild.
    """
    versions = prior.withColumn(_IS_NEW, sf.lit(False)).unionByName(
        history.withColumn(_IS_NEW, sf.lit(True)), allowMissingColumns=True
    )
    columns = [c for c in versions.columns if c not in (key, _IS_NEW)]
    rest = [c for c in columns if c not in order_by]
    # The newest version is the greatest struct: structs compare field by field, nulls first.
    newest = sf.max(sf.struct(_IS_NEW, *order_by, *rest)).alias(_LATEST)
    return (
        versions.groupBy(key)
        .agg(newest)
        .select(key, *(sf.col(_LATEST)[c].alias(c) for c in columns))
        .filter(sf.coalesce(sf.col("_cdc_operation"), sf.lit("")) != DELETE)
        .orderBy(key)
    )
