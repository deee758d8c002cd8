"""Pairwise precision, recall and F1 of a clustering against the simulator's ground truth."""

import polars as pl

from transforms.identity.profiles import ANONYMOUS_DEVICE

ALL = "all"
ALL_RECORDS = "all_records"
RECORD_KEY = ["source", "source_record_id"]
# Each pair count is the pairs inside the groups of these columns.
_PAIR_GROUPS = {
    "true_pairs": ["person_id"],
    "predicted_pairs": ["customer_key"],
    "correct_pairs": ["customer_key", "person_id"],
}


def _pairs(n: pl.Expr) -> pl.Expr:
    return n * (n - 1) // 2


def _ratio(part: str, whole: str) -> pl.Expr:
    """`part / whole`, or 1.0 when `whole` is 0 (nothing to get wrong)."""
    return pl.when(pl.col(whole) == 0).then(1.0).otherwise(pl.col(part) / pl.col(whole))


def _scope_counts(records: pl.LazyFrame) -> pl.LazyFrame:
    """Records, persons and clusters overall and in each source."""
    counts = [
        pl.col("records").sum().cast(pl.Int64),
        pl.col("person_id").n_unique().cast(pl.Int64).alias("persons"),
        pl.col("customer_key").n_unique().cast(pl.Int64).alias("clusters"),
    ]
    return pl.concat(
        [
            records.select(pl.lit(ALL).alias("scope"), *counts),
            records.group_by(scope="source").agg(counts),
        ]
    )


def _pairs_per_scope(records: pl.LazyFrame, name: str, group: list[str]) -> pl.LazyFrame:
    """Pairs inside the groups of `group`, overall and touching each source.

    A group of `n` records of which `s` are from a source holds C(n,2) - C(n-s,2) pairs
    with at least one of them, so no pair is ever enumerated.
    """
    by_source = (
        records.group_by(*group, "source")
        .agg(s=pl.col("records").sum().cast(pl.Int64))
        .with_columns(n=pl.col("s").sum().over(group))
    )
    overall = records.group_by(group).agg(n=pl.col("records").sum().cast(pl.Int64))
    return pl.concat(
        [
            overall.select(pl.lit(ALL).alias("scope"), _pairs(pl.col("n")).sum().alias(name)),
            by_source.group_by(scope="source").agg(
                (_pairs(pl.col("n")) - _pairs(pl.col("n") - pl.col("s"))).sum().alias(name)
            ),
        ]
    )


def pairwise_metrics(xref: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Pairwise precision, recall and F1 of `xref`'s clusters, overall and per source.

    Args:
        xref: `source`, `source_record_id` and the predicted `customer_key` of each record.
        truth: `source`, `source_record_id` and the true `person_id` of each record; records
            missing from either frame are left out.

    Returns:
        One row for scope `all`, then one per source in name order: `scope`, `records`,
        `persons`, `clusters`, `true_pairs`, `predicted_pairs`, `correct_pairs`,
        `precision`, `recall`, `f1`. A source's pairs are those with at least one of its
        records. Precision (recall) is 1.0 when there are no predicted (true) pairs.

    Raises:
        ValueError: a source is named `all`, which would be confused with the overall scope.
    """
    return summed_pairwise_metrics(
        xref.select(*RECORD_KEY, "customer_key")
        .join(truth.select(*RECORD_KEY, "person_id"), on=RECORD_KEY, how="inner")
        .group_by("source", "customer_key", "person_id")
        .agg(records=pl.len().cast(pl.Int64))
    )


def summed_pairwise_metrics(scored: pl.DataFrame) -> pl.DataFrame:
    """`pairwise_metrics` of records summed up: `source`, `customer_key`, `person_id` and
    `records` (how many records of that source the key and the person share)."""
    if (scored["source"] == ALL).any():
        raise ValueError(f"a source is named {ALL!r}, the overall scope's name: rename it")
    joined = scored.lazy().select("source", "customer_key", "person_id", "records").cache()
    scopes = _scope_counts(joined)
    for name, group in _PAIR_GROUPS.items():
        scopes = scopes.join(_pairs_per_scope(joined, name, group), on="scope")
    precision, recall = pl.col("precision"), pl.col("recall")
    return (
        scopes.with_columns(
            precision=_ratio("correct_pairs", "predicted_pairs"),
            recall=_ratio("correct_pairs", "true_pairs"),
        )
        .with_columns(
            f1=pl.when(precision + recall == 0)
            .then(0.0)
            .otherwise(2 * precision * recall / (precision + recall))
        )
        .sort(pl.col("scope") != ALL, "scope")
        .collect()
    )


def with_singletons(keyed: pl.DataFrame, alone: pl.DataFrame) -> pl.DataFrame:
    """`keyed` (`source`, `source_record_id`, `customer_key`) plus each record of `alone` as
    a person of its own (negative keys, which no resolution issues)."""
    singletons = alone.select(
        *RECORD_KEY, customer_key=-pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    )
    return pl.concat([keyed.select(*RECORD_KEY, "customer_key"), singletons])


def resolution_metrics(
    scored: pl.DataFrame, alone: pl.DataFrame, left_out: pl.DataFrame
) -> pl.DataFrame:
    """A resolution's metrics: `pairwise_metrics` of the identified records, plus one
    `all_records` row over every record the truth knows.

    Anonymous visitors (events of a device that never logged in) and records with no
    identity carry nothing that could tie them to anyone else, so the per-source rows and
    `all` leave them out and count them in `unresolved`. `all_records` measures them too,
    each anonymous device as its own person and each record without identity alone:
    what the data cannot reveal counted as missed.

    Args:
        scored: the records with an identity that the truth knows, summed up: `source`,
            `customer_key`, `match_rule`, `person_id`, `records`.
        alone: `source`, `person_id` of each record with no identity that the truth knows.
        left_out: `source`, `records`: the anonymous visitors and the records with no
            identity, known to the truth or not, counted per source.
    """
    anonymous = pl.col("match_rule") == ANONYMOUS_DEVICE
    singletons = alone.select(
        "source",
        "person_id",
        customer_key=-pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        records=pl.lit(1, pl.Int64),
    )
    every = pl.concat([scored.select(singletons.columns), singletons], how="vertical_relaxed")
    overall = summed_pairwise_metrics(every).filter(pl.col("scope") == ALL)
    metrics = pl.concat(
        [
            summed_pairwise_metrics(scored.filter(~anonymous)),
            overall.with_columns(scope=pl.lit(ALL_RECORDS)),
        ]
    )
    total = left_out.select(pl.col("records").sum()).item() or 0
    counts = pl.concat(
        [
            left_out.group_by(scope="source").agg(unresolved=pl.col("records").sum()),
            pl.DataFrame({"scope": [ALL, ALL_RECORDS], "unresolved": [total, total]}),
        ],
        how="vertical_relaxed",
    ).with_columns(pl.col("unresolved").cast(pl.Int64))
    return metrics.join(counts, on="scope", how="left", maintain_order="left").with_columns(
        pl.col("unresolved").fill_null(0)
    )
