"""The hidden population: the people every source system sees a part of.

Generation is vectorised: Faker fills small pools of names, streets and places once
(seeded), and numpy draws from them, so a million people take seconds and the same seed
gives the same people byte for byte.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl
from faker import Faker

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")
CHANNELS = ("email", "sms", "phone", "none")
POOL_SIZE = 2_000
HOUSEHOLD_SIZES = (1, 2, 3, 4)
HOUSEHOLD_WEIGHTS = (0.55, 0.30, 0.10, 0.05)

# Daily probabilities of life events, per person (moves are per household).
DAILY_RATES = {"move": 0.0008, "new_email": 0.0006, "name_change": 0.0002, "churn": 0.0004}


@cache
def pools(seed: int) -> dict[str, np.ndarray]:
    """Seeded pools to draw people from: names, streets and (city, state, postcode)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    places = sorted({(fake.city(), fake.state_abbr(), fake.postcode()) for _ in range(400)})
    return {
        "first": np.array(sorted({fake.first_name() for _ in range(POOL_SIZE)})),
        "last": np.array(sorted({fake.last_name() for _ in range(POOL_SIZE)})),
        "street": np.array(sorted({fake.street_name() for _ in range(POOL_SIZE)})),
        "city": np.array([p[0] for p in places]),
        "state": np.array([p[1] for p in places]),
        "postcode": np.array([p[2] for p in places]),
    }


def generate_people(count: int, seed: int) -> pl.DataFrame:
    """`count` people with their true identity attributes, living in households.

    Returns:
        One row per person: person_id, household_id, first_name, last_name, email,
        phone (mobile, E.164), home_phone (the household's landline, E.164 or null),
        street, city, state, postcode, country, birth_date, marketing_opt_in,
        preferred_channel, is_churned.
    """
    rng = np.random.default_rng(seed)
    pool = pools(seed)
    sizes = rng.choice(HOUSEHOLD_SIZES, p=HOUSEHOLD_WEIGHTS, size=count)
    household = np.repeat(np.arange(1, count + 1), sizes)[:count]
    households = int(household[-1])
    # Household members share an address, a landline (if any) and mostly a last name.
    place = rng.integers(0, len(pool["city"]), households)[household - 1]
    street_no = rng.integers(1, 9_999, households)[household - 1]
    street = pool["street"][rng.integers(0, len(pool["street"]), households)][household - 1]
    landline = np.where(rng.random(households) < 0.5, rng.integers(0, 10**10, households), -1)
    family_name = pool["last"][rng.integers(0, len(pool["last"]), households)][household - 1]
    own_name = pool["last"][rng.integers(0, len(pool["last"]), count)]
    last = np.where(rng.random(count) < 0.8, family_name, own_name)
    first = pool["first"][rng.integers(0, len(pool["first"]), count)]
    ids = np.arange(1, count + 1)
    return pl.DataFrame(
        {
            "n": ids,
            "household": household,
            "first_name": first,
            "last_name": last,
            "domain": np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), count)],
            "mobile": rng.integers(2_010_000_000, 9_899_999_999, count),
            "landline": landline[household - 1],
            "street_no": street_no,
            "street": street,
            "city": pool["city"][place],
            "state": pool["state"][place],
            "postcode": pool["postcode"][place],
            "birth_days": rng.integers(-12_400, 14_000, count),  # born 1936 to 2008
            "marketing_opt_in": rng.random(count) < 0.6,
            "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), count)],
        }
    ).select(
        person_id=pl.format("P{}", pl.col("n").cast(pl.String).str.zfill(7)),
        household_id=pl.format("H{}", pl.col("household").cast(pl.String).str.zfill(7)),
        first_name="first_name",
        last_name="last_name",
        # The person number keeps emails unique, as a mailbox is in the real world.
        email=_email(pl.col("first_name"), pl.col("last_name"), pl.col("n"), pl.col("domain")),
        phone=pl.format("+1{}", pl.col("mobile")),
        home_phone=pl.when(pl.col("landline") >= 0)
        .then(pl.format("+1{}", pl.col("landline").cast(pl.String).str.zfill(10)))
        .otherwise(None),
        street=pl.format("{} {}", pl.col("street_no"), pl.col("street")),
        city="city",
        state="state",
        postcode="postcode",
        country=pl.lit("US"),
        birth_date=pl.col("birth_days").cast(pl.Date),
        marketing_opt_in="marketing_opt_in",
        preferred_channel="channel",
        is_churned=pl.lit(False),
    )


def _email(first: pl.Expr, last: pl.Expr, number: pl.Expr, domain: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        first.str.to_lowercase().str.replace_all(r"[^a-z]", ""),
        pl.lit("."),
        last.str.to_lowercase().str.replace_all(r"[^a-z]", ""),
        number.cast(pl.String),
        pl.lit("@"),
        domain,
    )


def live_day(
    people: pl.DataFrame, rng: np.random.Generator, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Advance the people one day: some households move, some people change email or
    name (marriage), some churn.

    Returns:
        The people after the day, and the day's events (`person_id`, `event`).
    """
    n = people.height
    pool = pools(seed)
    households = people["household_id"].unique().sort()
    movers = households.filter(pl.Series(rng.random(len(households)) < DAILY_RATES["move"]))
    k = len(movers)
    place = rng.integers(0, len(pool["city"]), k)
    new_address = pl.DataFrame(
        {
            "household_id": movers,
            "new_street": [
                f"{no} {name}"
                for no, name in zip(
                    rng.integers(1, 9_999, k).tolist(),
                    pool["street"][rng.integers(0, len(pool["street"]), k)].tolist(),
                    strict=True,
                )
            ],
            "new_city": pool["city"][place],
            "new_state": pool["state"][place],
            "new_postcode": pool["postcode"][place],
        },
        schema_overrides={"new_street": pl.String},
    )
    new_email = rng.random(n) < DAILY_RATES["new_email"]
    name_change = rng.random(n) < DAILY_RATES["name_change"]
    churn = (rng.random(n) < DAILY_RATES["churn"]) & ~people["is_churned"].to_numpy()
    last_pick = rng.integers(0, len(pool["last"]), n)
    # A name change gives another name: drawing the current one takes the next in the pool.
    new_last = np.where(
        pool["last"][last_pick] == people["last_name"].to_numpy(),
        pool["last"][(last_pick + 1) % len(pool["last"])],
        pool["last"][last_pick],
    )
    flags = pl.DataFrame(
        {
            "new_email": new_email,
            "name_change": name_change,
            "churn": churn,
            "new_last": new_last,
            "suffix": rng.integers(100, 999, n),
            "new_domain": np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), n)],
        }
    )
    updated = (
        pl.concat([people, flags], how="horizontal")
        .join(new_address, on="household_id", how="left", maintain_order="left")
        .with_columns(moves=pl.col("new_city").is_not_null())
        .with_columns(
            last_name=pl.when("name_change").then("new_last").otherwise("last_name"),
            email=pl.when("new_email")
            .then(
                _email(
                    pl.col("first_name"),
                    pl.col("last_name"),
                    pl.col("person_id").str.slice(1).cast(pl.Int64) * 1000 + pl.col("suffix"),
                    pl.col("new_domain"),
                )
            )
            .otherwise("email"),
            street=pl.coalesce("new_street", "street"),
            city=pl.coalesce("new_city", "city"),
            state=pl.coalesce("new_state", "state"),
            postcode=pl.coalesce("new_postcode", "postcode"),
            is_churned=pl.col("is_churned") | pl.col("churn"),
        )
    )
    events = (
        updated.select("person_id", "moves", "new_email", "name_change", "churn")
        .unpivot(index="person_id", variable_name="event")
        .filter("value")
        .select("person_id", pl.col("event").replace({"moves": "move"}))
        .sort("person_id", "event")
    )
    return updated.select(people.columns), events
