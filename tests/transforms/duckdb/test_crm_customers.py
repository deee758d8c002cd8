"""Staging the CRM's customers: the DuckDB twin equals the Polars one."""

from __future__ import annotations

import random

import polars as pl
import pytest

from catalog.tables import staging
from tests.transforms.duckdb.test_normalise import EMAILS, NAMES, PHONES
from tests.transforms.duckdb.twins import assert_same_stage
from tests.transforms.frames import empty
from tests.transforms.polars.test_crm_customers import RAW_SCHEMA, _at, _version
from transforms.duckdb.crm_customers import stage_crm_customers as duckdb_stage
from transforms.polars.crm_customers import stage_crm_customers as polars_stage

Version = dict[str, object]

CASES: dict[str, list[Version]] = {
    "latest normalised state": [
        _version("C2", updated=_at(1), ingested=_at(2), phone="(555) 987-6543"),
        _version("C1", updated=_at(1), ingested=_at(2), email=" ADA@Example.com", value=1.0),
        _version(
            "C1",
            updated=_at(3),
            ingested=_at(4),
            operation="update",
            email=" Ada.L@Example.COM ",
            phone="+1 555 123 4567",
            first_name="  Ada  Augusta ",
            street=" 7   Elm  Rd ",
            city="  North Andover ",
            value=2.5,
        ),
    ],
    "deletes": [
        _version("C1", updated=_at(1), ingested=_at(2)),
        _version("C2", updated=_at(1), ingested=_at(2)),
        _version("C2", updated=_at(5), ingested=_at(6), operation="delete"),
        _version("C3", updated=_at(1), ingested=_at(2)),
        _version("C3", updated=None, ingested=_at(6), operation="delete"),
        _version("C4", updated=_at(1), ingested=_at(2)),
        _version("C4", updated=None, ingested=_at(3), operation="delete"),
        _version("C4", updated=_at(4), ingested=_at(5), first_name="Back"),
    ],
    "later capture wins": [
        _version("C1", updated=_at(3), ingested=_at(4), email="first@example.com"),
        _version("C1", updated=_at(2), ingested=_at(5), email="late@example.com"),
    ],
    "ties": [
        _version("C1", updated=_at(3), ingested=_at(5), email="second@example.com"),
        _version("C1", updated=_at(3), ingested=_at(4), email="first@example.com"),
        # Same capture, same source time: the later row.
        _version("C2", updated=_at(3), ingested=_at(4), email="first@example.com"),
        _version("C2", updated=_at(3), ingested=_at(4), email="second@example.com"),
        # Same capture, no source time on one: nulls are oldest.
        _version("C3", updated=_at(3), ingested=_at(4), email="dated@example.com"),
        _version("C3", updated=None, ingested=_at(4), email="undated@example.com"),
    ],
    "messy contacts": [
        _version("C1", updated=_at(1), ingested=_at(2), email="  ", phone="unknown"),
        _version(
            "C2",
            updated=_at(1),
            ingested=_at(2),
            email="\u00a0ADA@EXAMPLE.COM\t",
            phone="555\u00a0123\u00a04567",
            first_name="\u00a0Ada\t\tMary\u00a0",
            street="1\u00a0\u00a0Main\tSt",
            city="\tSalem\n",
        ),
        _version("C3", updated=_at(1), ingested=_at(2), email=None, phone=None),
        _version("C4", updated=_at(1), ingested=_at(2), phone="1 (555) 123-4567"),
    ],
    "order": [_version(i, updated=_at(1), ingested=_at(2)) for i in ["C3", "C10", "C1", "C2"]],
}


def _raw(versions: list[Version]) -> pl.LazyFrame:
    return pl.LazyFrame(versions, schema=RAW_SCHEMA)


def _random_versions(seed: int, captured: range, rows: int = 500) -> list[Version]:
    """Messy versions of a few customers, captured at the `captured` hours (few, so that
    versions tie often)."""
    rng = random.Random(seed)
    versions = []
    for _ in range(rows):
        operation = rng.choice(["insert", "update", "update", "delete"])
        # A delete found by the key diff carries no source timestamp.
        undated = operation == "delete" and rng.random() < 0.5
        version = _version(
            f"C{rng.randrange(40)}",
            updated=None if undated else rng.choice([_at(1), _at(2), _at(3, 5)]),
            ingested=_at(1, rng.choice(captured)),
            operation=operation,
            email=rng.choice(EMAILS),
            phone=rng.choice(PHONES),
            value=rng.random(),
        )
        for column in ("first_name", "last_name", "street", "city"):
            version[column] = rng.choice(NAMES)
        versions.append(version)
    return versions


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_same_staged_customers(case: str) -> None:
    assert_same_stage(
        polars_stage,
        duckdb_stage,
        staging.CRM_CUSTOMERS,
        empty(staging.CRM_CUSTOMERS),
        _raw(CASES[case]),
    )


@pytest.mark.parametrize("seed", range(3))
def test_random_histories_full_and_incremental(seed: int) -> None:
    earlier = _random_versions(seed, captured=range(2, 5))
    later = _random_versions(seed + 100, captured=range(5, 8))

    full = assert_same_stage(
        polars_stage,
        duckdb_stage,
        staging.CRM_CUSTOMERS,
        empty(staging.CRM_CUSTOMERS),
        _raw(earlier + later),
    )
    prior = polars_stage(empty(staging.CRM_CUSTOMERS), _raw(earlier))
    incremental = assert_same_stage(
        polars_stage, duckdb_stage, staging.CRM_CUSTOMERS, prior, _raw(later)
    )

    assert full.num_rows > 0
    assert incremental.equals(full)


def test_empty_raw_keeps_the_prior_state() -> None:
    prior = polars_stage(empty(staging.CRM_CUSTOMERS), _raw(CASES["latest normalised state"]))

    kept = assert_same_stage(polars_stage, duckdb_stage, staging.CRM_CUSTOMERS, prior, _raw([]))

    assert kept.num_rows == 2
