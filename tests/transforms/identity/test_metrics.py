"""Pairwise precision, recall and F1 of a clustering against ground truth."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl
import pytest

from transforms.identity.metrics import pairwise_metrics, summed_pairwise_metrics

COLUMNS = {
    "scope": pl.String,
    "records": pl.Int64,
    "persons": pl.Int64,
    "clusters": pl.Int64,
    "true_pairs": pl.Int64,
    "predicted_pairs": pl.Int64,
    "correct_pairs": pl.Int64,
    "precision": pl.Float64,
    "recall": pl.Float64,
    "f1": pl.Float64,
}
# (source, source_record_id, customer_key, person_id)
Record = tuple[str, str, int, str]


def _frames(records: list[Record]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The xref and truth frames of `records`."""
    sources = [r[0] for r in records]
    ids = [r[1] for r in records]
    xref = pl.DataFrame(
        {"source": sources, "source_record_id": ids, "customer_key": [r[2] for r in records]},
        schema={"source": pl.String, "source_record_id": pl.String, "customer_key": pl.Int64},
    )
    truth = pl.DataFrame(
        {"source": sources, "source_record_id": ids, "person_id": [r[3] for r in records]},
        schema={"source": pl.String, "source_record_id": pl.String, "person_id": pl.String},
    )
    return xref, truth


def _metrics(records: list[Record]) -> dict[str, dict[str, Any]]:
    result = pairwise_metrics(*_frames(records))
    assert result.schema == pl.Schema(COLUMNS)
    return {row["scope"]: row for row in result.iter_rows(named=True)}


def _rates(precision: Fraction, recall: Fraction) -> dict[str, Any]:
    """Expected precision, recall and F1 from exact fractions."""
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else Fraction(0)
    return {
        "precision": pytest.approx(float(precision)),
        "recall": pytest.approx(float(recall)),
        "f1": pytest.approx(float(f1)),
    }


def _rates_of(row: dict[str, Any]) -> dict[str, Any]:
    return {rate: row[rate] for rate in ("precision", "recall", "f1")}


def _pair_counts(row: dict[str, Any]) -> tuple[int, int, int]:
    """True, predicted and correct pairs."""
    return row["true_pairs"], row["predicted_pairs"], row["correct_pairs"]


def test_a_perfect_clustering_scores_one() -> None:
    records = [
        ("crm", "1", 10, "P1"),
        ("crm", "2", 10, "P1"),
        ("web", "1", 10, "P1"),
        ("web", "2", 20, "P2"),
        ("web", "3", 30, "P3"),
    ]

    overall = _metrics(records)["all"]

    assert overall == {
        "scope": "all",
        "records": 5,
        "persons": 3,
        "clusters": 3,
        "true_pairs": 3,
        "predicted_pairs": 3,
        "correct_pairs": 3,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }


def test_merging_two_singleton_persons_costs_precision_only() -> None:
    records = [
        ("crm", "1", 1, "A"),
        ("crm", "2", 1, "A"),
        ("crm", "3", 1, "A"),
        ("crm", "4", 2, "B"),
        ("crm", "5", 2, "C"),
    ]

    overall = _metrics(records)["all"]

    # A's 3 pairs are right; the B-C pair is wrong.
    assert _pair_counts(overall) == (3, 4, 3)
    assert _rates_of(overall) == _rates(Fraction(3, 4), Fraction(1))


def test_splitting_a_person_costs_recall_only() -> None:
    records = [
        ("crm", "1", 1, "A"),
        ("crm", "2", 1, "A"),
        ("crm", "3", 2, "A"),
        ("crm", "4", 2, "A"),
    ]

    overall = _metrics(records)["all"]

    # A has 6 pairs; the two halves of the split keep 1 each.
    assert _pair_counts(overall) == (6, 2, 2)
    assert _rates_of(overall) == _rates(Fraction(1), Fraction(1, 3))


def test_a_source_scores_the_pairs_touching_it() -> None:
    # P has crm:1, crm:2 and web:1; Q has web:2. Clusters: {crm:1, crm:2} and {web:1, web:2}.
    records = [
        ("crm", "1", 1, "P"),
        ("crm", "2", 1, "P"),
        ("web", "1", 2, "P"),
        ("web", "2", 2, "Q"),
    ]

    scopes = _metrics(records)

    assert list(scopes) == ["all", "crm", "web"]
    counts = ["records", "persons", "clusters", "true_pairs", "predicted_pairs", "correct_pairs"]
    # all: P's 3 pairs are true; crm:1-crm:2 is the one right prediction of two.
    assert [scopes["all"][c] for c in counts] == [4, 2, 2, 3, 2, 1]
    assert _rates_of(scopes["all"]) == _rates(Fraction(1, 2), Fraction(1, 3))
    # crm: every P pair touches crm (3 - C(1,2)); only the crm cluster's pair touches crm.
    assert [scopes["crm"][c] for c in counts] == [2, 1, 1, 3, 1, 1]
    assert _rates_of(scopes["crm"]) == _rates(Fraction(1), Fraction(1, 3))
    # web: P's two pairs linking web:1 to crm are missed; web:1-web:2 is a wrong merge.
    assert [scopes["web"][c] for c in counts] == [2, 2, 1, 2, 1, 0]
    assert _rates_of(scopes["web"]) == _rates(Fraction(0), Fraction(0))


def test_no_pairs_at_all_is_perfect() -> None:
    scopes = _metrics([("crm", "1", 1, "A"), ("crm", "2", 2, "B")])

    assert scopes["crm"] | {"scope": "all"} == scopes["all"]
    assert (scopes["all"]["precision"], scopes["all"]["recall"], scopes["all"]["f1"]) == (1, 1, 1)


def test_records_missing_from_either_side_are_ignored() -> None:
    records = [
        ("crm", "1", 1, "A"),
        ("crm", "2", 1, "A"),
        ("crm", "3", 2, "B"),
    ]
    xref, truth = _frames(records)
    extra_xref, _ = _frames([("web", "9", 2, "A")])
    _, extra_truth = _frames([("crm", "9", 5, "A"), ("pos", "1", 5, "B")])

    padded = pairwise_metrics(pl.concat([xref, extra_xref]), pl.concat([truth, extra_truth]))

    assert padded.to_dicts() == pairwise_metrics(xref, truth).to_dicts()
    assert padded["scope"].to_list() == ["all", "crm"]
    overall = padded.row(0, named=True)
    assert (overall["records"], overall["persons"], overall["clusters"]) == (3, 2, 2)
    assert _pair_counts(overall) == (1, 1, 1)


def test_nothing_joined_still_reports_the_overall_scope() -> None:
    xref, truth = _frames([("crm", "1", 1, "A")])

    result = pairwise_metrics(xref, truth.clear())

    assert result.to_dicts() == [
        {"scope": "all"}
        | dict.fromkeys(list(COLUMNS)[1:7], 0)
        | dict.fromkeys(["precision", "recall", "f1"], 1.0)
    ]


def test_pair_counts_beyond_32_bits() -> None:
    size = 70_000
    xref = pl.DataFrame(
        {
            "source": ["crm"] * size,
            "source_record_id": [str(i) for i in range(size)],
            "customer_key": [1] * size,
        }
    )
    truth = xref.select("source", "source_record_id", person_id=pl.lit("A"))

    overall = pairwise_metrics(xref, truth).row(0, named=True)

    assert overall["true_pairs"] == overall["correct_pairs"] == size * (size - 1) // 2 > 2**31


def test_a_source_named_like_the_overall_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="named 'all'"):
        pairwise_metrics(*_frames([("all", "1", 1, "A")]))


def _brute_force(records: list[Record]) -> dict[str, dict[str, Any]]:
    """The metrics of every scope by looking at every pair."""
    scopes: dict[str, dict[str, Any]] = {}
    for scope in ["all", *sorted({r[0] for r in records})]:
        touches = [r for r in records if scope in ("all", r[0])]
        true = predicted = correct = 0
        for a, b in combinations(records, 2):
            if scope not in ("all", a[0], b[0]):
                continue
            same_person, same_cluster = a[3] == b[3], a[2] == b[2]
            true += same_person
            predicted += same_cluster
            correct += same_person and same_cluster
        precision = Fraction(correct, predicted) if predicted else Fraction(1)
        recall = Fraction(correct, true) if true else Fraction(1)
        scopes[scope] = {
            "scope": scope,
            "records": len(touches),
            "persons": len({r[3] for r in touches}),
            "clusters": len({r[2] for r in touches}),
            "true_pairs": true,
            "predicted_pairs": predicted,
            "correct_pairs": correct,
        } | _rates(precision, recall)
    return scopes


def test_matches_counting_every_pair_on_a_random_clustering() -> None:
    rng = np.random.default_rng(360)
    size = 300
    sources = rng.choice(["crm", "orders", "web"], size)
    persons = rng.integers(0, 60, size)
    # Mostly right, with persons merged in pairs and records scattered to wrong clusters.
    clusters = np.where(rng.random(size) < 0.8, persons // 2, rng.integers(100, 110, size))
    records = [
        (str(source), f"{source}-{i}", int(cluster), f"P{person}")
        for i, (source, cluster, person) in enumerate(zip(sources, clusters, persons, strict=True))
    ]

    scopes = _metrics(records)

    assert scopes == _brute_force(records)
    assert 0 < scopes["all"]["precision"] < 1
    assert 0 < scopes["all"]["recall"] < 1


def test_records_summed_up_score_as_the_records_listed() -> None:
    rng = np.random.default_rng(8)
    size = 200
    xref = pl.DataFrame(
        {
            "source": rng.choice(["crm", "clickstream"], size),
            "source_record_id": [str(i) for i in range(size)],
            "customer_key": rng.integers(0, 15, size),
        }
    )
    truth = xref.select(
        "source", "source_record_id", person_id=pl.format("P{}", pl.col("customer_key") // 2)
    ).with_columns(
        person_id=pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.lit("P-x"))
        .otherwise("person_id")
    )
    summed = (
        xref.join(truth, on=["source", "source_record_id"])
        .group_by("source", "customer_key", "person_id")
        .agg(records=pl.len())
    )

    assert summed_pairwise_metrics(summed).equals(pairwise_metrics(xref, truth))
