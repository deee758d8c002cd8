"""Deterministic rules: profiles that share an email or a phone, where sharing is safe.

An identifier links profiles only when nothing about it says two people use it:

- `exact_email`: profiles with the same normalised email, unless the named profiles
  carrying it disagree on the first name's initial (a family mailbox is two people).
  Typing errors never change a first letter often enough to matter, and a wrong merge
  costs more than a missed one: the probabilistic step still sees those pairs.
- `exact_phone`: profiles with the same E.164 phone, unless the profiles carrying it
  disagree on the first initial (of the name, or failing that of the email: a household
  landline) or give more than one email.

Each rule yields star edges (every profile to the smallest profile id of its group), which
connect the same profiles as all pairs would, in linear size.
"""

from __future__ import annotations

import polars as pl

EDGE_SCHEMA: dict[str, pl.DataType] = {
    "profile_id_l": pl.String(),
    "profile_id_r": pl.String(),
    "match_rule": pl.String(),
    "match_probability": pl.Float64(),
}


def _initials() -> pl.Expr:
    # A profile without a name still hints at one: most mailboxes start with the owner's
    # first initial (the guest who gave a household landline and antonio.carney@...).
    hint = pl.coalesce("first_name", "email").str.slice(0, 1).str.to_lowercase()
    return hint.drop_nulls().n_unique()


def shared_value_edges(
    profiles: pl.DataFrame, column: str, rule: str, max_emails: int | None = None
) -> pl.DataFrame:
    """Star edges between profiles sharing `column`, where the value is safe to share.

    Args:
        profiles: `profile_id`, `first_name`, `email` and `column`.
        column: the identifier to group on.
        rule: the `match_rule` the edges carry.
        max_emails: if set, a value given with more distinct emails than this is unsafe.
    """
    groups = (
        profiles.filter(pl.col(column).is_not_null())
        .group_by(column)
        .agg(
            pl.col("profile_id").sort(),
            initials=_initials(),
            emails=pl.col("email").drop_nulls().n_unique(),
        )
        .filter(pl.col("profile_id").list.len() > 1, pl.col("initials") <= 1)
    )
    if max_emails is not None:
        groups = groups.filter(pl.col("emails") <= max_emails)
    return (
        groups.select(profile_id_l=pl.col("profile_id").list.first(), profile_id_r="profile_id")
        .explode("profile_id_r")
        .filter(pl.col("profile_id_l") != pl.col("profile_id_r"))
        .with_columns(match_rule=pl.lit(rule), match_probability=pl.lit(1.0))
        .select(list(EDGE_SCHEMA))
    )


def deterministic_edges(profiles: pl.DataFrame) -> pl.DataFrame:
    """The `exact_email` and `exact_phone` edges between `profiles`."""
    return pl.concat(
        [
            shared_value_edges(profiles, "email", "exact_email"),
            shared_value_edges(profiles, "phone", "exact_phone", max_emails=1),
        ]
    )
