"""Stable customer keys across runs."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.identity.keys import HISTORY_SCHEMA, KEYS_SCHEMA, KeyAssignment, assign_keys

NO_PRIOR = pl.DataFrame(schema=KEYS_SCHEMA)


def _clusters(persons: dict[int, list[str]]) -> pl.DataFrame:
    """{cluster_id: ["source:record_id", ...]} as a clustering."""
    rows = [(*record.split(":"), cluster) for cluster, rs in persons.items() for record in rs]
    return pl.DataFrame(
        rows,
        schema={"source": pl.String, "source_record_id": pl.String, "cluster_id": pl.Int64},
        orient="row",
    )


def _prior(keys: dict[int, list[str]]) -> pl.DataFrame:
    """{customer_key: ["source:record_id", ...]} as a previous run's keys."""
    return _clusters(keys).rename({"cluster_id": "customer_key"})


def _keys(result: KeyAssignment) -> dict[str, int]:
    keys = result.keys
    labels = keys["source"] + ":" + keys["source_record_id"]
    return dict(zip(labels, keys["customer_key"], strict=True))


def _history(result: KeyAssignment) -> list[tuple[int, int | None, str, int]]:
    return [row[:4] for row in result.history.iter_rows()]


def test_a_first_run_mints_keys_in_record_order_whatever_the_cluster_labels() -> None:
    persons = {7: ["orders:o1", "crm:c2"], 3: ["loyalty:l1"], 5: ["crm:c1", "tickets:t1"]}

    result = assign_keys(_clusters(persons), NO_PRIOR, next_key=100)

    # Persons ordered by their smallest record: crm:c1, crm:c2, loyalty:l1.
    assert _keys(result) == {
        "crm:c1": 100,
        "tickets:t1": 100,
        "crm:c2": 101,
        "orders:o1": 101,
        "loyalty:l1": 102,
    }
    assert result.keys.columns == ["source", "source_record_id", "customer_key"]
    assert result.keys.schema == KEYS_SCHEMA
    assert result.keys.equals(result.keys.sort("source", "source_record_id"))
    assert result.history.is_empty()
    assert result.history.schema == HISTORY_SCHEMA

    relabelled = {1: persons[5], 2: persons[3], 9: persons[7]}
    shuffled = _clusters(relabelled).sample(fraction=1.0, shuffle=True, seed=4)
    assert assign_keys(shuffled, NO_PRIOR, next_key=100).keys.equals(result.keys)


def test_a_rerun_on_the_same_clusters_keeps_every_key_and_records_no_change() -> None:
    clusters = _clusters({1: ["crm:c1", "orders:o1"], 2: ["crm:c2"], 3: ["loyalty:l1"]})
    first = assign_keys(clusters, NO_PRIOR, next_key=1)

    # Clustering labels persons afresh on every run.
    again = assign_keys(clusters.with_columns(pl.col("cluster_id") * 10), first.keys, next_key=4)

    assert again.keys.equals(first.keys)
    assert again.history.is_empty()
    assert again.history.schema == HISTORY_SCHEMA


def test_a_new_record_joining_a_person_takes_their_key() -> None:
    prior = _prior({10: ["crm:c1", "orders:o1"], 11: ["crm:c2"]})
    clusters = _clusters({1: ["crm:c1", "orders:o1", "tickets:t9"], 2: ["crm:c2"]})

    result = assign_keys(clusters, prior, next_key=12)

    assert _keys(result) == {"crm:c1": 10, "orders:o1": 10, "tickets:t9": 10, "crm:c2": 11}
    assert result.history.is_empty()


def test_two_persons_merging_keep_the_key_of_the_larger() -> None:
    prior = _prior({10: ["crm:c1"], 11: ["orders:o1", "orders:o2", "tickets:t1"]})
    clusters = _clusters({1: ["crm:c1", "orders:o1", "orders:o2", "tickets:t1"]})

    result = assign_keys(clusters, prior, next_key=12)

    assert set(_keys(result).values()) == {11}
    assert _history(result) == [(10, 11, "merge", 1)]
    assert result.history["reason"].to_list() == [
        "1 record of 10 now resolves to the same person as 11's"
    ]


def test_merging_persons_of_equal_size_keep_the_smaller_key() -> None:
    prior = _prior({21: ["crm:c1", "crm:c2"], 20: ["orders:o1", "orders:o2"]})
    clusters = _clusters({1: ["crm:c1", "crm:c2", "orders:o1", "orders:o2"]})

    result = assign_keys(clusters, prior, next_key=22)

    assert set(_keys(result).values()) == {20}
    assert _history(result) == [(21, 20, "merge", 2)]
    assert result.history["reason"].to_list() == [
        "2 records of 21 now resolve to the same person as 20's"
    ]


def test_a_person_splitting_leaves_the_key_with_the_larger_part() -> None:
    prior = _prior({10: ["crm:c1", "orders:o1", "orders:o2", "tickets:t1", "tickets:t2"]})
    clusters = _clusters({1: ["tickets:t1", "tickets:t2"], 2: ["crm:c1", "orders:o1", "orders:o2"]})

    result = assign_keys(clusters, prior, next_key=50)

    assert _keys(result) == {
        "crm:c1": 10,
        "orders:o1": 10,
        "orders:o2": 10,
        "tickets:t1": 50,
        "tickets:t2": 50,
    }
    assert _history(result) == [(10, 50, "split", 2)]
    assert result.history["reason"].to_list() == ["2 records of 10 split off into a new person, 50"]


def test_a_key_split_in_half_stays_with_the_part_holding_the_first_record() -> None:
    prior = _prior({10: ["crm:c2", "orders:o1", "crm:c1", "orders:o2"]})
    clusters = _clusters({1: ["crm:c2", "orders:o2"], 2: ["crm:c1", "orders:o1"]})

    result = assign_keys(clusters, prior, next_key=11)

    assert _keys(result) == {"crm:c1": 10, "orders:o1": 10, "crm:c2": 11, "orders:o2": 11}
    assert _history(result) == [(10, 11, "split", 2)]


def test_a_key_whose_records_are_all_deleted_is_retired() -> None:
    prior = _prior({10: ["crm:c1"], 11: ["crm:c2", "orders:o2"], 12: ["crm:c3", "orders:o3"]})
    # crm:c3 was deleted too, but orders:o3 keeps 12 alive.
    clusters = _clusters({1: ["crm:c1"], 2: ["orders:o3"]})

    result = assign_keys(clusters, prior, next_key=13)

    assert _keys(result) == {"crm:c1": 10, "orders:o3": 12}
    assert _history(result) == [(11, None, "retired", 2)]
    assert result.history["reason"].to_list() == ["no record of 11 is left (it had 2)"]


def test_merges_splits_and_new_persons_in_one_run() -> None:
    prior = _prior(
        {
            10: ["crm:a1", "crm:a2", "crm:a3"],
            11: ["crm:b1", "crm:b2"],
            12: ["crm:c1", "crm:c2", "orders:c3"],
            13: ["legacy:gone"],
        }
    )
    clusters = _clusters(
        {
            # 11 joins 10's person, and so does one record of 12.
            5: ["crm:a1", "crm:a2", "crm:a3", "crm:b1", "crm:b2", "orders:c3"],
            6: ["crm:c1", "crm:c2"],
            7: ["tickets:new"],
        }
    )

    result = assign_keys(clusters, prior, next_key=14)

    assert _keys(result) == {
        "crm:a1": 10,
        "crm:a2": 10,
        "crm:a3": 10,
        "crm:b1": 10,
        "crm:b2": 10,
        "orders:c3": 10,
        "crm:c1": 12,
        "crm:c2": 12,
        "tickets:new": 14,
    }
    assert _history(result) == [
        (11, 10, "merge", 2),
        (13, None, "retired", 1),
        (12, 10, "split", 1),
    ]
    assert result.history["reason"].to_list() == [
        "2 records of 11 now resolve to the same person as 10's",
        "no record of 13 is left (it had 1)",
        "1 record of 12 split off and now resolves to the same person as 10's",
    ]

    settled = assign_keys(clusters, result.keys, next_key=15)
    assert settled.keys.equals(result.keys)
    assert settled.history.is_empty()


def test_a_key_merged_away_while_part_of_it_splits_off() -> None:
    prior = _prior({10: ["crm:a1", "crm:a2", "crm:a3"], 11: ["crm:b1", "crm:b2", "crm:b3"]})
    # Most of 11 joins 10's person; its last record becomes a person of its own.
    clusters = _clusters({1: ["crm:a1", "crm:a2", "crm:a3", "crm:b1", "crm:b2"], 2: ["crm:b3"]})

    result = assign_keys(clusters, prior, next_key=12)

    assert _keys(result)["crm:b1"] == 10
    assert _keys(result)["crm:b3"] == 12
    assert _history(result) == [(11, 10, "merge", 2), (11, 12, "split", 1)]


def test_next_key_must_be_above_every_prior_key() -> None:
    prior = _prior({10: ["crm:c1"]})

    with pytest.raises(ValueError, match="next_key 10 is not above prior key 10"):
        assign_keys(_clusters({1: ["crm:c1"]}), prior, next_key=10)


def test_a_record_clustered_twice_is_refused() -> None:
    clusters = _clusters({1: ["crm:c1"], 2: ["crm:c1"]})

    with pytest.raises(ValueError, match="clusters holds record crm:c1 more than once"):
        assign_keys(clusters, NO_PRIOR, next_key=1)


def test_a_record_with_two_prior_keys_is_refused() -> None:
    prior = _prior({10: ["crm:c1"], 11: ["crm:c1"]})

    with pytest.raises(ValueError, match="prior holds record crm:c1 more than once"):
        assign_keys(_clusters({1: ["crm:c1"]}), prior, next_key=12)


def test_many_keys_with_two_splitting_off_into_new_persons() -> None:
    # A shape that once made Polars panic while writing the split reasons (~1,000 keys).
    prior = {k: [f"crm:{k:04d}a", f"crm:{k:04d}b"] for k in range(1, 1001)}
    clusters = {k: [f"crm:{k:04d}a"] if k in (2, 999) else prior[k] for k in prior}
    clusters |= {2002: ["crm:0002b"], 2999: ["crm:0999b"]}

    result = assign_keys(_clusters(clusters), _prior(prior), next_key=1001)

    assert _history(result) == [(2, 1001, "split", 1), (999, 1002, "split", 1)]
    assert _keys(result)["crm:0002a"] == 2
    assert _keys(result)["crm:0999b"] == 1002
