"""The hidden population: the people every source system sees a part of.

Generation is vectorised: Faker fills small pools of names and domains once (seeded), and
numpy draws from them, so a million people take seconds and the same seed gives the same
people byte for byte.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from faker import Faker

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")
POOL_SIZE = 2_000


def name_pools(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded pools of first and last names to draw people from."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    first = np.array(sorted({fake.first_name() for _ in range(POOL_SIZE)}))
    last = np.array(sorted({fake.last_name() for _ in range(POOL_SIZE)}))
    return first, last


def generate_people(count: int, seed: int) -> pl.DataFrame:
    """`count` people with their true identity attributes.

    Returns:
        One row per person: person_id, first_name, last_name, email, phone (E.164),
        birth_date.
    """
    rng = np.random.default_rng(seed)
    first_pool, last_pool = name_pools(seed)
    first = first_pool[rng.integers(0, len(first_pool), count)]
    last = last_pool[rng.integers(0, len(last_pool), count)]
    ids = np.arange(1, count + 1)
    domains = np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), count)]
    # The person number keeps emails unique, as a mailbox is in the real world.
    area = rng.integers(201, 990, count)
    line = rng.integers(0, 10_000_000, count)
    birth_days = rng.integers(-12_400, 14_000, count)  # born 1936 to 2008
    return pl.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in ids],
            "first_name": first,
            "last_name": last,
            "domain": domains,
            "area": area,
            "line": line,
            "birth_days": birth_days,
            "n": ids,
        }
    ).select(
        "person_id",
        "first_name",
        "last_name",
        email=pl.concat_str(
            pl.col("first_name").str.to_lowercase(),
            pl.lit("."),
            pl.col("last_name").str.to_lowercase().str.replace_all(r"[^a-z]", ""),
            pl.col("n").cast(pl.String),
            pl.lit("@"),
            pl.col("domain"),
        ),
        phone=pl.format("+1{}{}", pl.col("area"), pl.col("line").cast(pl.String).str.zfill(7)),
        birth_date=pl.col("birth_days").cast(pl.Date),
    )
