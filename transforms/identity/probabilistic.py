"""Probabilistic matching with Splink on DuckDB: the pairs the exact rules cannot decide.

A Fellegi-Sunter model over the profiles' first name, last name, email and phone, trained
without labels on every run's own data:

1. the prior (how likely two random profiles match) from the exact rules' recall;
2. `u` (how often non-matches agree by chance) from random pairs;
3. `m` (how often matches agree) by expectation maximisation, in two sessions blocked on
   name and on email so that every comparison gets trained by a session not blocked on it.

Candidate pairs come from `BLOCKING_RULES` (what a typo leaves intact: the phone, the full
name, the digits of an email). A pair is a match at `MATCH_THRESHOLD`: a wrong merge is
worse than a missed one, so the bar is high; the accuracy test and `bench/` measure what
it costs in recall.

Training costs ten times what scoring does, and a day moves the parameters little: a
trained model (`MatchModel`, Splink's own JSON) is kept and scores the next days' pairs
until the profiles have grown or shrunk by `RETRAIN_CHANGE` since it was trained, or the
comparisons or training above change (`model_spec`). Pairs are always scored from the kept
JSON, so a day that trains and a replay of it that loads the model score alike.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from dataclasses import dataclass

import duckdb
import polars as pl
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from transforms.identity.rules import EDGE_SCHEMA

MATCH_THRESHOLD = 0.99
# Digits a match probability keeps (far finer than any threshold or metric needs).
PROBABILITY_DECIMALS = 9
BLOCKING_RULES = (
    block_on("email"),
    block_on("phone"),
    block_on("first_name", "last_name"),
    block_on("email_digits", "substr(first_name, 1, 1)"),
)
TRAINING_SEED = 42
U_SAMPLE_PAIRS = 2_000_000
# A kept model scores pairs until the profiles differ from those it was trained on by this
# share (a day adds well under 1 % once a world has some history).
RETRAIN_CHANGE = 0.05


@dataclass(frozen=True)
class MatchModel:
    """A trained Splink model.

    Attributes:
        spec: `model_spec()` of the code that trained it.
        profiles: how many profiles it was trained on.
        parameters: Splink's model JSON (settings and trained parameters).
    """

    spec: str
    profiles: int
    parameters: str


def _email_comparison() -> cl.CustomComparison:
    # Mailboxes here are name + number (jane.doe123@): a typo in the name keeps the digits,
    # one in the number keeps the letters. Two namesakes' emails (john.smith12@ and
    # john.smith13@) differ in the digits, so a plain similarity would call them one typo
    # apart. Edit distance only on the short digit strings: DuckDB's Damerau-Levenshtein
    # on whole emails is ~40x slower than Jaro-Winkler and would dominate training.
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            cll.CustomLevel(
                "email_digits_l = email_digits_r "
                "and jaro_winkler_similarity(email_l, email_r) >= 0.9",
                label_for_charts="Same digits, Jaro-Winkler >= 0.9",
            ),
            cll.CustomLevel(
                "email_letters_l = email_letters_r "
                "and damerau_levenshtein(email_digits_l, email_digits_r) <= 1",
                label_for_charts="Same letters, digits one edit apart",
                # Too rare among random pairs for the sample to see any: its resolution,
                # one in U_SAMPLE_PAIRS, is an upper bound on u (a conservative weight).
            ).configure(u_probability=1 / U_SAMPLE_PAIRS),
            cll.ElseLevel(),
        ],
    )


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="profile_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("first_name", [0.92, 0.85]),
            cl.JaroWinklerAtThresholds("last_name", [0.92, 0.85]),
            _email_comparison(),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _train(linker: Linker) -> None:
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone", "first_name")], recall=0.8
    )
    training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=TRAINING_SEED)
    training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"))
    training.estimate_parameters_using_expectation_maximisation(block_on("email"))


def model_spec() -> str:
    """A digest of the comparisons, blocking and training a model comes from: a model
    kept from other code is trained again."""
    described = {
        "settings": _settings().create_settings_dict("duckdb"),
        "training": [TRAINING_SEED, U_SAMPLE_PAIRS, inspect.getsource(_train)],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def needs_training(model: MatchModel | None, profiles: int) -> bool:
    """Whether `model` is missing, from other code, or trained on profiles too unlike
    `profiles` of them."""
    return (
        model is None
        or model.spec != model_spec()
        or abs(profiles - model.profiles) > RETRAIN_CHANGE * model.profiles
    )


def match_model(profiles: pl.DataFrame, kept: MatchModel | None = None) -> MatchModel | None:
    """The model to score `profiles` with: `kept`, or one trained on them when
    `needs_training`. None when there are too few profiles to train on and none kept.

    Args:
        profiles: `profile_id`, `first_name`, `last_name`, `email`, `phone`.
        kept: the model used last.
    """
    if not needs_training(kept, profiles.height) or profiles.height < 2:
        return kept
    connection = duckdb.connect()
    try:
        linker = Linker(
            DuckDBAPI(connection).register(_comparable(profiles).to_arrow()),
            _settings(),
            log_level=logging.ERROR,
        )
        _train(linker)
        parameters = json.dumps(linker.misc.save_model_to_json(), sort_keys=True)
    finally:
        connection.close()
    return MatchModel(model_spec(), profiles.height, parameters)


def probabilistic_edges(
    profiles: pl.DataFrame, threshold: float = MATCH_THRESHOLD, model: MatchModel | None = None
) -> pl.DataFrame:
    """Pairs of profiles Splink scores at or above `threshold`, as edges (`EDGE_SCHEMA`).

    Args:
        profiles: `profile_id`, `first_name`, `last_name`, `email`, `phone`.
        threshold: the match probability a pair needs.
        model: the model to score with (`match_model`); None: one trained on `profiles`.
    """
    if profiles.height < 2:
        return pl.DataFrame(schema=EDGE_SCHEMA)
    model = model or match_model(profiles)
    assert model is not None
    connection = duckdb.connect()
    try:
        linker = Linker(
            DuckDBAPI(connection).register(_comparable(profiles).to_arrow()),
            json.loads(model.parameters),
            log_level=logging.ERROR,
        )
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        edges = pl.from_arrow(
            connection.sql(
                f"select profile_id_l, profile_id_r, match_probability "
                f"from {predictions.physical_name}"
            ).arrow()
        )
    finally:
        connection.close()
    assert isinstance(edges, pl.DataFrame)
    return edges.select(
        "profile_id_l",
        "profile_id_r",
        match_rule=pl.lit("splink"),
        # DuckDB's parallel sums in training differ in the last bit from run to run:
        # rounded, the same profiles always give the same probabilities.
        match_probability=pl.col("match_probability").round(PROBABILITY_DECIMALS),
    ).select(list(EDGE_SCHEMA))


def _comparable(profiles: pl.DataFrame) -> pl.DataFrame:
    """The profiles as the comparisons read them."""
    return profiles.select(
        "profile_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        email_digits=pl.col("email").str.extract(r"([0-9]+)@", 1),
        email_letters=pl.col("email").str.replace_all(r"[0-9]", ""),
    ).with_columns(pl.col("first_name", "last_name").str.to_lowercase())
