"""A data contract, typed: the seed's example (section 1.2.3) plus a version."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

VERSION_SUFFIX = re.compile(r"_v(\d+)$")


class ColumnType(StrEnum):
    """A column's type as a contract spells it (SQL-ish, upper case, as in the seed)."""

    STRING = "STRING"
    BOOLEAN = "BOOLEAN"
    INTEGER = "INTEGER"
    LONG = "LONG"
    FLOAT = "FLOAT"
    DOUBLE = "DOUBLE"
    DECIMAL = "DECIMAL"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"


class ViolationAction(StrEnum):
    """What enforcement does with a row or a feed that breaks the contract."""

    ALERT = "alert"
    QUARANTINE = "quarantine"
    PAUSE = "pause"


class _Strict(BaseModel):
    # A misspelt key is an error, not a silently ignored rule.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expectations(_Strict):
    primary_key: str
    unique_keys: list[str] = Field(default_factory=list)
    not_null: list[str] = Field(default_factory=list)
    slo_timeliness_minutes: int = Field(gt=0)
    slo_completeness_pct: float = Field(ge=0, le=100)
    accepted_values: dict[str, list[str]] = Field(default_factory=dict)


class Lineage(_Strict):
    raw_path: str
    staging_path: str
    curated_table: str
    # The lakehouse raw table the feed lands in, e.g. `raw.orders_orders`; the seed's example
    # predates the lakehouse names, so it is optional (see `loader.SEED_FEEDS`).
    raw_table: str | None = None


class Enforcement(_Strict):
    on_violation: ViolationAction
    alert_channel: str


class Contract(_Strict):
    """One feed's data contract.

    `version` may be omitted (as in the seed's example): it is then read from the
    `contract_id`'s `_vN` suffix, which every contract id carries.
    """

    contract_id: str
    version: int = Field(default=0, ge=0)
    owner: str
    source_system: str
    # `schema` shadows a BaseModel attribute, hence the alias.
    columns: dict[str, ColumnType] = Field(alias="schema", min_length=1)
    expectations: Expectations
    retention_policy_days: int = Field(gt=0)
    lineage: Lineage
    enforcement: Enforcement

    @model_validator(mode="after")
    def _check(self) -> Self:
        match = VERSION_SUFFIX.search(self.contract_id)
        if match is None:
            raise ValueError(f"contract_id {self.contract_id!r} must end in _v<N>, e.g. _v1")
        suffix = int(match.group(1))
        if self.version == 0:
            object.__setattr__(self, "version", suffix)
        elif self.version != suffix:
            raise ValueError(f"version {self.version} differs from contract_id suffix _v{suffix}")
        e = self.expectations
        named = [e.primary_key, *e.unique_keys, *e.not_null, *e.accepted_values]
        unknown = sorted({c for c in named if c not in self.columns})
        if unknown:
            raise ValueError(f"expectations name columns not in schema: {', '.join(unknown)}")
        return self
