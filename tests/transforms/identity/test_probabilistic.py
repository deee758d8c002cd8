"""Splink models: one is kept while the profiles stay close to those it was trained on, a
kept model scores pairs exactly as the run that trained it did, and other code trains anew."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest

from tests.transforms.identity.test_resolve import synthetic_records
from transforms.identity.probabilistic import (
    RETRAIN_CHANGE,
    MatchModel,
    match_model,
    model_spec,
    probabilistic_edges,
)
from transforms.identity.profiles import EVENT_SOURCE, GROUP, attach_groups


@pytest.fixture(scope="module")
def profiles() -> pl.DataFrame:
    records = synthetic_records().filter(pl.col("source") != EVENT_SOURCE)
    _, _, profiles = attach_groups(records, pl.DataFrame(schema={c: pl.String() for c in GROUP}))
    return profiles


@pytest.fixture(scope="module")
def model(profiles: pl.DataFrame) -> MatchModel:
    trained = match_model(profiles)
    assert trained is not None
    return trained


def test_a_trained_model_records_its_code_and_profiles(
    profiles: pl.DataFrame, model: MatchModel
) -> None:
    assert model.spec == model_spec()
    assert model.profiles == profiles.height
    trained = json.loads(model.parameters)
    levels = [level for c in trained["comparisons"] for level in c["comparison_levels"]]
    assert any("m_probability" in level for level in levels)
    assert 0 < trained["probability_two_random_records_match"] < 1


def test_a_kept_model_scores_as_training_on_the_same_profiles_does(
    profiles: pl.DataFrame, model: MatchModel
) -> None:
    trained_here = probabilistic_edges(profiles)
    kept = probabilistic_edges(profiles, model=model)
    assert not kept.is_empty()
    order = ["profile_id_l", "profile_id_r"]
    assert kept.sort(order).equals(trained_here.sort(order))


def test_a_model_is_kept_until_the_profiles_change_by_the_retrain_share(
    profiles: pl.DataFrame, model: MatchModel
) -> None:
    within = int(profiles.height * (1 - RETRAIN_CHANGE)) + 1
    assert match_model(profiles.head(within), model) is model

    beyond = int(profiles.height * (1 - RETRAIN_CHANGE)) - 1
    retrained = match_model(profiles.head(beyond), model)
    assert retrained is not None
    assert retrained.profiles == beyond
    assert retrained.parameters != model.parameters


def test_a_model_from_other_code_is_trained_anew(profiles: pl.DataFrame, model: MatchModel) -> None:
    stale = dataclasses.replace(model, spec="other comparisons")
    retrained = match_model(profiles, stale)
    assert retrained is not None
    assert retrained is not stale
    assert (retrained.spec, retrained.profiles) == (model_spec(), profiles.height)
    # Trained again on the same profiles: the same pairs, the same probabilities.
    order = ["profile_id_l", "profile_id_r"]
    assert (
        probabilistic_edges(profiles, model=retrained)
        .sort(order)
        .equals(probabilistic_edges(profiles, model=model).sort(order))
    )
