"""Deterministic samples of keys: those whose sha256 sorts first, kept up to date as a table's
keys change by hashing only the keys it gained."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SAMPLE_SIZE = 500


def digest(key: str) -> bytes:
    """The sha256 of `key`, which orders keys for sampling."""
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class Lowest:
    """Every key of a set whose sha256 sorts at or below `bound`, in that order (a `bound`
    of None: every key of the set). Its first n keys are the set's sample of n as long as
    it holds n or is the whole set; the keys beyond are a margin for keys the set loses.
    """

    keys: tuple[str, ...]
    bound: bytes | None

    def sample(self, size: int = SAMPLE_SIZE) -> list[str]:
        """The set's `size` keys whose sha256 sorts first (all, if it has fewer)."""
        return list(self.keys[:size])

    def to_json(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "bound": self.bound.hex() if self.bound else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lowest:
        return cls(tuple(data["keys"]), bytes.fromhex(data["bound"]) if data["bound"] else None)


def lowest(keys: Iterable[str], keep: int = SAMPLE_SIZE) -> Lowest:
    """The `keep` distinct `keys` whose sha256 sorts first (every one, if there are no more)."""
    ranked = heapq.nsmallest(keep + 1, ((digest(k), k) for k in set(keys)))
    if len(ranked) <= keep:
        return Lowest(tuple(k for _, k in ranked), None)
    return Lowest(tuple(k for _, k in ranked[:keep]), ranked[keep - 1][0])


def sample_keys(keys: Iterable[str], size: int = SAMPLE_SIZE) -> list[str]:
    """Up to `size` of `keys`, the same ones every time: those whose sha256 sorts first."""
    return lowest(keys, size).sample(size)


def carried(
    prior: Lowest,
    added: Iterable[str],
    gone: Collection[str] = (),
    *,
    size: int = SAMPLE_SIZE,
    keep: int = SAMPLE_SIZE,
) -> Lowest | None:
    """`prior` after its set gained `added` (keys it already held are ignored) and lost
    `gone`, hashing only `added`. None when it lost so many keys under its bound that a
    sample of `size` can no longer be drawn from it: compute `lowest` from every key again.

    Beyond `keep + (keep - size)` keys it is cut back to `keep`, lowering its bound.
    """
    ranked = {(digest(k), k) for k in prior.keys if k not in gone}
    ranked |= {
        (d, k)
        for d, k in ((digest(k), k) for k in added)
        if prior.bound is None or d <= prior.bound
    }
    ordered = sorted(ranked)
    if prior.bound is not None and len(ordered) < size:
        return None
    if len(ordered) > 2 * keep - size:
        return Lowest(tuple(k for _, k in ordered[:keep]), ordered[keep - 1][0])
    return Lowest(tuple(k for _, k in ordered), prior.bound)
