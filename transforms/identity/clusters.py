"""Clustering: profiles joined by any edge (exact rule or Splink match) are one person.

Connected components by Splink's clusterer on DuckDB, over the edges of every rule. Each
profile also keeps the strongest evidence that joined it to its cluster, which becomes the
`match_rule` and `match_probability` of its records.
"""

from __future__ import annotations

import duckdb
import polars as pl
from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold

# Strongest evidence first: what a record's `match_rule` says when several edges join it.
RULE_STRENGTH = ("exact_email", "exact_phone", "splink")


def connected_components(profile_ids: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """`profile_id` -> `cluster_id` (Int64, dense from 1 in order of the smallest member).

    Args:
        profile_ids: every profile, linked or not.
        edges: `profile_id_l`, `profile_id_r`.
    """
    nodes = pl.DataFrame({"profile_id": profile_ids.unique()})
    if edges.is_empty():
        components = nodes.with_columns(cluster="profile_id")
    else:
        connection = duckdb.connect()
        try:
            db_api = DuckDBAPI(connection)
            clustered = cluster_pairwise_predictions_at_threshold(
                nodes.to_arrow(),
                edges.select(
                    "profile_id_l", "profile_id_r", match_probability=pl.lit(1.0)
                ).to_arrow(),
                db_api,
                node_id_column_name="profile_id",
                edge_id_column_name_left="profile_id_l",
                edge_id_column_name_right="profile_id_r",
                threshold_match_probability=0.5,
            )
            result = pl.from_arrow(
                connection.sql(
                    f"select profile_id, cluster_id from {clustered.physical_name}"
                ).arrow()
            )
        finally:
            connection.close()
        assert isinstance(result, pl.DataFrame)
        components = result.select("profile_id", cluster=pl.col("cluster_id").cast(pl.String))
    smallest = components.group_by("cluster").agg(first=pl.col("profile_id").min())
    numbered = smallest.sort("first").with_row_index("cluster_id", offset=1)
    return (
        components.join(numbered, on="cluster")
        .select("profile_id", pl.col("cluster_id").cast(pl.Int64))
        .sort("profile_id")
    )


def strongest_evidence(edges: pl.DataFrame) -> pl.DataFrame:
    """Per profile on any edge: the strongest rule that joined it, and its probability."""
    strength = {rule: rank for rank, rule in enumerate(RULE_STRENGTH)}
    ends = pl.concat(
        [
            edges.select(profile_id=side, match_rule="match_rule", p="match_probability")
            for side in ("profile_id_l", "profile_id_r")
        ]
    )
    return (
        ends.with_columns(rank=pl.col("match_rule").replace_strict(strength, return_dtype=pl.Int8))
        .sort("profile_id", "rank", pl.col("p"), descending=[False, False, True])
        .unique("profile_id", keep="first")
        .select("profile_id", "match_rule", match_probability="p")
    )
