"""Clustering: profiles joined by any edge (exact rule or Splink match) are one person.

Connected components over the edges of every rule, by union-find on the profiles'
positions (Splink's own clusterer on DuckDB gives the same components, several times
slower). Each profile also keeps the strongest evidence that joined it to its cluster,
which becomes the `match_rule` and `match_probability` of its records.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Strongest evidence first: what a record's `match_rule` says when several edges join it.
RULE_STRENGTH = ("exact_email", "exact_phone", "splink")


def connected_components(profile_ids: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """`profile_id` -> `cluster_id` (Int64, dense from 1 in order of the smallest member).

    Args:
        profile_ids: every profile, linked or not.
        edges: `profile_id_l`, `profile_id_r`.
    """
    nodes = pl.DataFrame({"profile_id": profile_ids.unique().sort()}).with_row_index("node")
    ends = [
        edges.select(profile_id=side).join(
            nodes, on="profile_id", how="left", maintain_order="left"
        )["node"]
        for side in ("profile_id_l", "profile_id_r")
    ]
    if any(end.null_count() for end in ends):
        raise ValueError("an edge joins a profile that is not in profile_ids")
    left, right = (end.to_numpy().astype(np.int64) for end in ends)
    # Every node's label becomes the smallest node of its component: nodes are numbered
    # in profile order, so that is its smallest member.
    label = np.arange(nodes.height, dtype=np.int64)
    while True:
        least = np.minimum(label[left], label[right])
        linked = label.copy()
        np.minimum.at(linked, left, least)
        np.minimum.at(linked, right, least)
        linked = linked[linked]  # jump to the label's own label: halves the path each round
        if np.array_equal(linked, label):
            break
        label = linked
    return nodes.select(
        "profile_id",
        cluster_id=pl.Series(label).rank("dense").cast(pl.Int64),
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
