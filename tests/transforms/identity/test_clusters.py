"""Connected components of profiles, and the strongest evidence that joined each."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from transforms.identity.clusters import connected_components


def _edges(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"profile_id_l": [a for a, _ in pairs], "profile_id_r": [b for _, b in pairs]},
        schema={"profile_id_l": pl.String, "profile_id_r": pl.String},
    )


def _components(ids: list[str], pairs: list[tuple[str, str]]) -> dict[str, int]:
    return dict(connected_components(pl.Series(ids), _edges(pairs)).iter_rows())


def test_components_are_numbered_in_order_of_their_smallest_member() -> None:
    ids = ["p5", "p1", "p4", "p2", "p3", "p6", "p1"]

    clusters = _components(ids, [("p5", "p2"), ("p4", "p3"), ("p3", "p6")])

    assert clusters == {"p1": 1, "p2": 2, "p5": 2, "p3": 3, "p4": 3, "p6": 3}


def test_a_long_chain_in_any_order_is_one_component() -> None:
    rng = np.random.default_rng(4)
    ids = [f"p{i:04d}" for i in range(1_000)]
    chain = list(itertools.pairwise(ids))
    shuffled = [chain[i][:: int(rng.choice([1, -1]))] for i in rng.permutation(len(chain))]

    clusters = _components([*ids, "q"], shuffled)

    assert set(clusters.values()) == {1, 2}
    assert clusters["q"] == 2


def test_no_edges_leaves_every_profile_alone() -> None:
    assert _components(["b", "a"], []) == {"a": 1, "b": 2}


def test_an_edge_to_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="not in profile_ids"):
        _components(["a"], [("a", "z")])
