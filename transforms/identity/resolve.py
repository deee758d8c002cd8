"""Identity resolution end to end: records -> profiles -> edges -> persons -> keys.

`resolve_identities` is what `flows/resolve.py` runs on every pipeline run, over the whole
current staging state: re-resolving everything keeps the clustering consistent as
evidence arrives, and `assign_keys` keeps every existing person's `customer_key` stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.identity.clusters import connected_components, strongest_evidence
from transforms.identity.golden import golden_records
from transforms.identity.keys import assign_keys
from transforms.identity.probabilistic import MATCH_THRESHOLD, probabilistic_edges
from transforms.identity.profiles import attach
from transforms.identity.rules import deterministic_edges

XREF_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_record_id": pl.String(),
    "customer_key": pl.Int64(),
    "match_rule": pl.String(),
    "match_probability": pl.Float64(),
}


@dataclass(frozen=True)
class Resolution:
    """What one resolution produced.

    Attributes:
        xref: every record with an identity: `XREF_SCHEMA`.
        golden: one golden record per `customer_key`.
        history: merges, splits and retirements of earlier keys.
        unresolved: the records with no identity to resolve (`source`, `source_record_id`).
    """

    xref: pl.DataFrame
    golden: pl.DataFrame
    history: pl.DataFrame
    unresolved: pl.DataFrame


def cluster_records(records: pl.DataFrame, threshold: float = MATCH_THRESHOLD) -> pl.DataFrame:
    """Every record with an identity, its `cluster_id`, `match_rule` and `match_probability`.

    A record attached by reference carries that rule (`crm_id`, `device_login`,
    `order_reference`); one matched as a profile carries the strongest edge that joined its
    profile; one alone in its cluster carries `unmatched` and no probability.
    """
    attached, profiles = attach(records)
    edges = pl.concat([deterministic_edges(profiles), probabilistic_edges(profiles, threshold)])
    clusters = connected_components(profiles["profile_id"], edges)
    evidence = strongest_evidence(edges)
    return (
        attached.join(clusters, on="profile_id")
        .join(evidence, on="profile_id", how="left")
        .select(
            "source",
            "source_record_id",
            "cluster_id",
            match_rule=pl.coalesce("attach_rule", "match_rule", pl.lit("unmatched")),
            match_probability=pl.when(pl.col("attach_rule").is_not_null())
            .then(pl.lit(1.0))
            .otherwise("match_probability"),
        )
    )


def resolve_identities(
    records: pl.DataFrame, prior: pl.DataFrame, next_key: int, threshold: float = MATCH_THRESHOLD
) -> Resolution:
    """Resolve `records` (`records.RECORD_SCHEMA`) into persons with stable keys.

    Args:
        records: the identity records of every source, as staged now.
        prior: the previous run's xref (`source`, `source_record_id`, `customer_key`).
        next_key: the first key to mint (one more than any key ever issued).
        threshold: Splink's match probability for a pair to match.
    """
    clustered = cluster_records(records, threshold)
    keyed = assign_keys(
        clustered.select("source", "source_record_id", "cluster_id"),
        prior.select("source", "source_record_id", "customer_key"),
        next_key,
    )
    xref = (
        keyed.keys.join(clustered.drop("cluster_id"), on=["source", "source_record_id"], how="left")
        .select(list(XREF_SCHEMA))
        .sort("source", "source_record_id")
    )
    history = _with_evidence(keyed.history, prior, xref)
    golden = golden_records(
        records.join(
            xref.select("source", "source_record_id", "customer_key"),
            on=["source", "source_record_id"],
        )
    )
    unresolved = (
        records.join(xref, on=["source", "source_record_id"], how="anti")
        .select("source", "source_record_id")
        .sort("source", "source_record_id")
    )
    return Resolution(xref=xref, golden=golden, history=history, unresolved=unresolved)


def _with_evidence(history: pl.DataFrame, prior: pl.DataFrame, xref: pl.DataFrame) -> pl.DataFrame:
    """`history` with the match rules of the records that moved appended to each reason."""
    moved = (
        prior.select("source", "source_record_id", old_key="customer_key")
        .join(
            xref.select("source", "source_record_id", new_key="customer_key", rule="match_rule"),
            on=["source", "source_record_id"],
        )
        .filter(pl.col("old_key") != pl.col("new_key"))
        .group_by("old_key", "new_key")
        .agg(rules=pl.col("rule").unique().sort().str.join(", "))
    )
    return (
        history.join(moved, on=["old_key", "new_key"], how="left", maintain_order="left")
        .with_columns(
            reason=pl.when(pl.col("rules").is_not_null())
            .then(pl.format("{} (by {})", "reason", "rules"))
            .otherwise("reason")
        )
        .drop("rules")
    )
