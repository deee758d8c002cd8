"""Stable customer keys: carry the previous run's keys over to this run's clusters.

Clustering labels its persons arbitrarily on every run; `customer_key` is what the rest of
the lakehouse joins on, so a person's key never changes just because the run was repeated
or new records joined them. The rules, from the overlap of this run's clusters with the
previous run's keys (cluster, prior key, number of the key's records now in the cluster):

1. Each prior key belongs to the cluster holding most of its records still present
   (ties: the cluster whose smallest (source, source_record_id) sorts first).
2. A cluster keeps, of the prior keys that belong to it, the one with most records there
   (ties: the smallest key). The other keys that belong to it are merged into it:
   history `merge`, old_key -> the kept key.
3. A cluster that no prior key belongs to gets a new key: `next_key`, `next_key + 1`, ...
   in the order of those clusters' smallest (source, source_record_id).
4. Records of a prior key that are now in a cluster other than the one the key belongs to
   were split off: history `split`, old_key -> the key of the cluster they went to, one
   row per (old_key, new_key).
5. A prior key none of whose records is present any more is retired: history `retired`,
   new_key null.

Running again on the same clusters with the returned keys as `prior` gives the same keys
and an empty history: every key then sits whole in one cluster and keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SOURCE, RECORD_ID, CLUSTER_ID, CUSTOMER_KEY = (
    "source",
    "source_record_id",
    "cluster_id",
    "customer_key",
)
MERGE, SPLIT, RETIRED = "merge", "split", "retired"

KEYS_SCHEMA = pl.Schema({SOURCE: pl.String, RECORD_ID: pl.String, CUSTOMER_KEY: pl.Int64})
HISTORY_SCHEMA = pl.Schema(
    {
        "old_key": pl.Int64,
        "new_key": pl.Int64,
        "change": pl.String,
        "records": pl.Int64,
        "reason": pl.String,
    }
)

_RECORD = [SOURCE, RECORD_ID]
# Position of a record in (source, source_record_id) order; a cluster's smallest position
# orders clusters deterministically whatever labels the clustering gave them.
ORDER, _ORDINAL, _CLUSTER_ORDER = "order", "_ordinal", "_cluster_order"


@dataclass(frozen=True)
class KeyAssignment:
    """This run's key for every record, and how the prior keys changed to get there."""

    keys: pl.DataFrame
    history: pl.DataFrame


def assign_keys(clusters: pl.DataFrame, prior: pl.DataFrame, next_key: int) -> KeyAssignment:
    """Give every clustered record a customer key, reusing the prior run's keys.

    Args:
        clusters: `source`, `source_record_id`, `cluster_id`: this run's clustering, one
            row per record.
        prior: `source`, `source_record_id`, `customer_key`: the previous run's keys (may
            be empty, may hold records that are gone).
        next_key: the first key to mint: the largest key ever issued + 1.

    Returns:
        `keys` (`source`, `source_record_id`, `customer_key`, one row per clustered
        record, sorted by record) and `history` (`old_key`, `new_key`, `change`,
        `records`, `reason`, sorted by change, old_key, new_key; empty when no key
        changed).

    Raises:
        ValueError: a record appears twice in `clusters`, or twice in `prior` and still
            clustered, or `next_key` is not above every prior key.
    """
    current = clusters.select(
        pl.col(SOURCE).cast(pl.String),
        pl.col(RECORD_ID).cast(pl.String),
        pl.col(CLUSTER_ID).cast(pl.Int64),
    ).sort(_RECORD)
    _require_unique(current, "clusters")
    previous = prior.select(
        pl.col(SOURCE).cast(pl.String),
        pl.col(RECORD_ID).cast(pl.String),
        pl.col(CUSTOMER_KEY).cast(pl.Int64).alias("old_key"),
    ).drop_nulls("old_key")
    records = current.join(previous, on=_RECORD, how="left", maintain_order="left")
    if records.height != current.height:
        _require_unique(records, "prior")
    units = records.with_row_index(_ORDINAL).select(
        CLUSTER_ID, "old_key", pl.lit(1, pl.Int64).alias("records"), pl.col(_ORDINAL).alias(ORDER)
    )
    cluster_keys, history = key_clusters(
        units, previous.group_by("old_key").agg(pl.len().cast(pl.Int64).alias("records")), next_key
    )
    keys = records.join(cluster_keys, on=CLUSTER_ID, how="left", maintain_order="left").select(
        KEYS_SCHEMA.names()
    )
    return KeyAssignment(keys=keys, history=history)


def key_clusters(
    units: pl.DataFrame, previous: pl.DataFrame, next_key: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rules of the module docstring over units of records that share a cluster and a
    prior key (a record, or a group of events that always resolve together).

    Args:
        units: `cluster_id`, `old_key` (null: no prior key), `records` (how many) and
            `order`: the position of the unit's first record in (source, source_record_id)
            order, unique per unit.
        previous: `old_key`, `records`: every prior key and how many records it had,
            present now or not.
        next_key: the first key to mint: the largest key ever issued + 1.

    Returns:
        `(cluster_keys, history)`: `cluster_id`, `customer_key` for every cluster, and the
        history as `assign_keys` returns it.

    Raises:
        ValueError: `next_key` is not above every prior key.
    """
    largest = previous.select(pl.col("old_key").max()).item()
    if largest is not None and next_key <= largest:
        raise ValueError(
            f"next_key {next_key} is not above prior key {largest}; "
            "pass the largest key ever issued + 1"
        )
    cluster_order = units.group_by(CLUSTER_ID).agg(pl.col(ORDER).min().alias(_CLUSTER_ORDER))
    overlap = (
        units.drop_nulls("old_key")
        .group_by(CLUSTER_ID, "old_key")
        .agg(pl.col("records").sum().cast(pl.Int64))
        .join(cluster_order, on=CLUSTER_ID)
    )
    # Rules 1-3 of the module docstring, in turn.
    owners = overlap.sort(
        ["old_key", "records", _CLUSTER_ORDER], descending=[False, True, False]
    ).unique("old_key", keep="first")
    kept = (
        owners.sort([CLUSTER_ID, "records", "old_key"], descending=[False, True, False])
        .unique(CLUSTER_ID, keep="first")
        .select(CLUSTER_ID, pl.col("old_key").alias(CUSTOMER_KEY))
    )
    minted = (
        cluster_order.join(kept, on=CLUSTER_ID, how="anti")
        .sort(_CLUSTER_ORDER)
        .with_row_index("_n")
        .select(CLUSTER_ID, (pl.col("_n").cast(pl.Int64) + next_key).alias(CUSTOMER_KEY))
    )
    cluster_keys = pl.concat([kept, minted])
    return cluster_keys, _history(overlap, owners, cluster_keys, previous, next_key)


def _require_unique(records: pl.DataFrame, name: str) -> None:
    """Raise if a record appears twice in `records`, sorted by record."""
    same = [pl.col(column) == pl.col(column).shift(1) for column in _RECORD]
    repeated = records.filter(pl.all_horizontal(same))
    if not repeated.is_empty():
        first = repeated.row(0, named=True)
        raise ValueError(
            f"{name} holds record {first[SOURCE]}:{first[RECORD_ID]} more than once; "
            "pass one row per (source, source_record_id)"
        )


def _history(
    overlap: pl.DataFrame,
    owners: pl.DataFrame,
    cluster_keys: pl.DataFrame,
    previous: pl.DataFrame,
    next_key: int,
) -> pl.DataFrame:
    # Rechunked: the join can leave an empty first chunk, on which Polars 2.1's `pl.format`
    # of a when/then/otherwise panics (two keys splitting into new persons, ~1,000 keys).
    moves = (
        overlap.join(owners.select("old_key", pl.col(CLUSTER_ID).alias("_owner")), on="old_key")
        .join(cluster_keys.rename({CUSTOMER_KEY: "new_key"}), on=CLUSTER_ID)
        .rechunk()
    )
    old, new, count = pl.col("old_key"), pl.col("new_key"), pl.col("records")
    # A kept key is the one row of its owner cluster where old and new agree: no change.
    merges = moves.filter(pl.col(CLUSTER_ID) == pl.col("_owner"), old != new).select(
        old,
        new,
        pl.lit(MERGE).alias("change"),
        count,
        pl.format(
            "{} of {} now {} to the same person as {}'s", _counted(count), old, _resolve(count), new
        ).alias("reason"),
    )
    splits = moves.filter(pl.col(CLUSTER_ID) != pl.col("_owner")).select(
        old,
        new,
        pl.lit(SPLIT).alias("change"),
        count,
        pl.when(new >= next_key)
        .then(pl.format("{} of {} split off into a new person, {}", _counted(count), old, new))
        .otherwise(
            pl.format(
                "{} of {} split off and now {} to the same person as {}'s",
                _counted(count),
                old,
                _resolve(count),
                new,
            )
        )
        .alias("reason"),
    )
    retired = previous.join(owners.select("old_key"), on="old_key", how="anti").select(
        old,
        pl.lit(None, dtype=pl.Int64).alias("new_key"),
        pl.lit(RETIRED).alias("change"),
        count,
        pl.format("no record of {} is left (it had {})", old, count).alias("reason"),
    )
    return (
        pl.concat([merges, splits, retired])
        .cast(HISTORY_SCHEMA)
        .sort(["change", "old_key", "new_key"], nulls_last=True)
    )


def _counted(count: pl.Expr) -> pl.Expr:
    """'1 record' or 'n records'."""
    noun = pl.when(count == 1).then(pl.lit("record")).otherwise(pl.lit("records"))
    return pl.format("{} {}", count, noun)


def _resolve(count: pl.Expr) -> pl.Expr:
    return pl.when(count == 1).then(pl.lit("resolves")).otherwise(pl.lit("resolve"))
