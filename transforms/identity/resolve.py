"""Identity resolution end to end: records -> profiles -> edges -> persons -> keys.

`resolve_groups` is what `flows/resolve.py` runs on every pipeline run, over the whole
current staging state: re-resolving everything keeps the clustering consistent as
evidence arrives, and `assign_keys`' rules keep every existing person's `customer_key`
stable. Events say no more than a device and the customer it was logged in as, so they
resolve as groups (`profiles.GROUP`): a few tens of thousands of rows for millions of
events. `resolve_identities` is the same resolution over plain records.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.identity.clusters import connected_components, strongest_evidence
from transforms.identity.events import event_activity, event_units
from transforms.identity.golden import golden_records
from transforms.identity.keys import ORDER, key_clusters
from transforms.identity.probabilistic import (
    MATCH_THRESHOLD,
    MatchModel,
    match_model,
    probabilistic_edges,
)
from transforms.identity.profiles import (
    EVENT_SOURCE,
    GROUP,
    attach_groups,
    event_groups,
)
from transforms.identity.rules import deterministic_edges

XREF_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_record_id": pl.String(),
    "customer_key": pl.Int64(),
    "match_rule": pl.String(),
    "match_probability": pl.Float64(),
}
RECORD = ["source", "source_record_id"]


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


@dataclass(frozen=True)
class GroupResolution:
    """What one resolution produced, events given per group.

    Attributes:
        xref: every record (not event) with an identity: `XREF_SCHEMA`, sorted.
        groups: `GROUP`, `customer_key` and `match_rule` of every event group; each of
            its events is an xref row with these and `match_probability` 1.0.
        golden: one golden record per `customer_key`.
        history: merges, splits and retirements of earlier keys.
        unresolved: the records (not events) with no identity (`source`, `source_record_id`).
        model: the Splink model that scored the pairs (None: too few profiles for one).
    """

    xref: pl.DataFrame
    groups: pl.DataFrame
    golden: pl.DataFrame
    history: pl.DataFrame
    unresolved: pl.DataFrame
    model: MatchModel | None


def _cluster(
    records: pl.DataFrame, groups: pl.DataFrame, threshold: float, kept: MatchModel | None
) -> tuple[pl.DataFrame, pl.DataFrame, MatchModel | None]:
    """`cluster_records` of `records` and of event `groups` (`GROUP`, `cluster_id`,
    `match_rule`), and the Splink model that scored them (`kept`, or one trained anew:
    `match_model`)."""
    attached, grouped, profiles = attach_groups(records, groups)
    model = match_model(profiles, kept)
    edges = pl.concat(
        [deterministic_edges(profiles), probabilistic_edges(profiles, threshold, model)]
    )
    clusters = connected_components(profiles["profile_id"], edges)
    evidence = strongest_evidence(edges)
    clustered = (
        attached.join(clusters, on="profile_id")
        .join(evidence, on="profile_id", how="left")
        .select(
            *RECORD,
            "cluster_id",
            match_rule=pl.coalesce("attach_rule", "match_rule", pl.lit("unmatched")),
            match_probability=pl.when(pl.col("attach_rule").is_not_null())
            .then(pl.lit(1.0))
            .otherwise("match_probability"),
        )
    )
    grouped = grouped.join(clusters, on="profile_id").select(
        *GROUP, "cluster_id", match_rule="attach_rule"
    )
    return clustered, grouped, model


def cluster_records(records: pl.DataFrame, threshold: float = MATCH_THRESHOLD) -> pl.DataFrame:
    """Every record with an identity, its `cluster_id`, `match_rule` and `match_probability`.

    A record attached by reference carries that rule (`crm_id`, `device_login`,
    `order_reference`); one matched as a profile carries the strongest edge that joined its
    profile; one alone in its cluster carries `unmatched` and no probability.
    """
    events = records.filter(pl.col("source") == EVENT_SOURCE)
    clustered, grouped, _ = _cluster(
        records.filter(pl.col("source") != EVENT_SOURCE), event_groups(events), threshold, None
    )
    by_event = events.join(grouped, on=GROUP, nulls_equal=True).select(
        *RECORD, "cluster_id", "match_rule", match_probability=pl.lit(1.0)
    )
    return pl.concat([clustered, by_event])


def resolve_groups(
    records: pl.DataFrame,
    units: pl.DataFrame,
    prior: pl.DataFrame,
    previous: pl.DataFrame,
    next_key: int,
    threshold: float = MATCH_THRESHOLD,
    model: MatchModel | None = None,
) -> GroupResolution:
    """Resolve `records` and the events summed up in `units` into persons with stable keys.

    Args:
        records: the identity records (`records.RECORD_SCHEMA`) of every source but
            `EVENT_SOURCE`, as staged now.
        units: the events with an identity, summed up per group and prior key
            (`events.EVENT_UNIT_SCHEMA`; other columns are ignored).
        prior: the previous run's keys of `records` (`source`, `source_record_id`,
            `customer_key`; one row per record; rows of other records are ignored).
        previous: `old_key`, `records`: every key of the previous run and how many records
            (events too) it had, present now or not.
        next_key: the first key to mint (one more than any key ever issued).
        threshold: Splink's match probability for a pair to match.
        model: the Splink model used last, kept while it fits (`match_model`).
    """
    clustered, grouped, model = _cluster(records, units.select(GROUP).unique(), threshold, model)
    keyed = clustered.join(
        prior.select(*RECORD, old_key="customer_key"), on=RECORD, how="left"
    ).with_columns(records=pl.lit(1, pl.Int64))
    if keyed.height != clustered.height:
        raise ValueError("prior holds a record more than once; pass one row per record")
    summed = units.join(grouped, on=GROUP, nulls_equal=True).select(
        "cluster_id",
        "old_key",
        "match_rule",
        *GROUP,
        records="events",
        source=pl.lit(EVENT_SOURCE),
        source_record_id="first_id",
    )
    # Each unit stands in (source, source_record_id) order where its first record does.
    ordered = (
        pl.concat(
            [
                keyed.select("cluster_id", "old_key", "records", *RECORD),
                summed.select("cluster_id", "old_key", "records", *RECORD),
            ]
        )
        .sort(RECORD)
        .with_row_index(ORDER)
    )
    cluster_keys, history = key_clusters(
        ordered.select("cluster_id", "old_key", "records", ORDER), previous, next_key
    )
    xref = clustered.join(cluster_keys, on="cluster_id").select(list(XREF_SCHEMA)).sort(RECORD)
    groups = grouped.join(cluster_keys, on="cluster_id").select(
        *GROUP, "customer_key", "match_rule"
    )
    moved = pl.concat(
        [
            keyed.join(cluster_keys, on="cluster_id").select(
                "old_key", new_key="customer_key", rule="match_rule"
            ),
            summed.join(cluster_keys, on="cluster_id").select(
                "old_key", new_key="customer_key", rule="match_rule"
            ),
        ]
    )
    golden = golden_records(
        records.join(xref.select(*RECORD, "customer_key"), on=RECORD),
        event_activity(units, groups),
    )
    unresolved = records.join(xref, on=RECORD, how="anti").select(RECORD).sort(RECORD)
    return GroupResolution(
        xref=xref,
        groups=groups,
        golden=golden,
        history=_with_evidence(history, moved),
        unresolved=unresolved,
        model=model,
    )


def resolve_identities(
    records: pl.DataFrame,
    prior: pl.DataFrame,
    next_key: int,
    threshold: float = MATCH_THRESHOLD,
    model: MatchModel | None = None,
) -> Resolution:
    """Resolve `records` (`records.RECORD_SCHEMA`) into persons with stable keys.

    Args:
        records: the identity records of every source, as staged now.
        prior: the previous run's xref (`source`, `source_record_id`, `customer_key`).
        next_key: the first key to mint (one more than any key ever issued).
        threshold: Splink's match probability for a pair to match.
        model: the Splink model used last, kept while it fits (`match_model`).

    Raises:
        ValueError: `prior` holds a record of `records` more than once, or `next_key` is
            not above every prior key.
    """
    prior = prior.select(*RECORD, pl.col("customer_key").cast(pl.Int64))
    if prior.join(records, on=RECORD, how="semi").select(RECORD).is_duplicated().any():
        raise ValueError("prior holds a record more than once; pass one row per record")
    events = records.filter(pl.col("source") == EVENT_SOURCE)
    identified = events.filter(pl.any_horizontal(pl.col(GROUP).is_not_null()))
    resolution = resolve_groups(
        records.filter(pl.col("source") != EVENT_SOURCE),
        event_units(identified, prior),
        prior,
        prior.drop_nulls("customer_key")
        .group_by(old_key="customer_key")
        .agg(records=pl.len().cast(pl.Int64)),
        next_key,
        threshold,
        model,
    )
    by_event = identified.join(resolution.groups, on=GROUP, nulls_equal=True).select(
        *RECORD, "customer_key", "match_rule", match_probability=pl.lit(1.0)
    )
    unidentified = events.join(identified, on=RECORD, how="anti").select(RECORD)
    return Resolution(
        xref=pl.concat([resolution.xref, by_event]).sort(RECORD),
        golden=resolution.golden,
        history=resolution.history,
        unresolved=pl.concat([resolution.unresolved, unidentified]).sort(RECORD),
    )


def _with_evidence(history: pl.DataFrame, moved: pl.DataFrame) -> pl.DataFrame:
    """`history` with the match rules of the records that moved appended to each reason.

    Args:
        history: `keys.HISTORY_SCHEMA`.
        moved: `old_key`, `new_key`, `rule` of every record (or group of events).
    """
    rules = (
        moved.filter(pl.col("old_key") != pl.col("new_key"))
        .group_by("old_key", "new_key")
        .agg(rules=pl.col("rule").unique().sort().str.join(", "))
    )
    return (
        history.join(rules, on=["old_key", "new_key"], how="left", maintain_order="left")
        .with_columns(
            reason=pl.when(pl.col("rules").is_not_null())
            .then(pl.format("{} (by {})", "reason", "rules"))
            .otherwise("reason")
        )
        .drop("rules")
    )
