"""Reading the serving copy: point lookups on a read-only SQLite file that may be replaced.

Each thread keeps its own connection to the copy it opened. A request first asks the store
for the current `ServingCopy` (a `stat` of the path, ~1 us: a new file has a new inode or
mtime, and is opened in its place) and runs all its queries on that one: the file it opened
stays readable after a rename replaces it, so a request never mixes two copies and no
request ever waits for a swap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from api.serving_copy import DAY_ANCHORS, DAY_COUNTS, FORMAT_VERSION

DOCUMENTS = ("profile", "history", "timeline")
# A profile as stored: its document and, beside it, the days its day counts count from.
PROFILE = ("profile", *DAY_ANCHORS)


class ServingCopyMissingError(RuntimeError):
    """No serving copy at the configured path (or not one this code can read)."""


@dataclass(frozen=True)
class ServingCopy:
    """One open serving copy: its connection (for this thread) and what its build recorded."""

    connection: sqlite3.Connection
    identity: tuple[int, int, int]
    version: str
    built_at: datetime
    customers: int
    snapshots: dict[str, dict[str, Any]]
    as_of_day: int | None  # the day the profiles' day counts count to (days since 1970-01-01)

    def document(self, kind: str, customer_key: int) -> bytes | None:
        """The JSON document (`profile`, `history` or `timeline`) of a customer."""
        if kind not in DOCUMENTS:
            raise ValueError(f"unknown document {kind!r}")
        profile = kind == "profile"
        row = self.connection.execute(
            f"select {', '.join(PROFILE) if profile else kind} from customers"
            " where customer_key = ?",
            (customer_key,),
        ).fetchone()
        if row is None:
            return None
        return with_day_counts(row[0], self.as_of_day, *row[1:]) if profile else row[0]

    def profiles_by(self, kind: str, value: str) -> list[bytes]:
        """The profiles of every customer an identifier (`email`, `phone` or `source`,
        already normalised) belongs to, by customer key."""
        columns = ", ".join(f"c.{c}" for c in PROFILE)
        rows = self.connection.execute(
            f"select {columns} from identifiers i join customers c using (customer_key)"
            " where i.kind = ? and i.value = ? and c.profile is not null"
            " order by i.customer_key",
            (kind, value),
        ).fetchall()
        return [
            document
            for row in rows
            if (document := with_day_counts(row[0], self.as_of_day, *row[1:])) is not None
        ]


class ServingStore:
    """The serving copy at `path`, reopened whenever a new copy is moved into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def current(self) -> ServingCopy:
        """The copy now at `path`, opened (for this thread) if it is new.

        Raises:
            ServingCopyMissingError: there is no readable copy at `path`.
        """
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise ServingCopyMissingError(
                f"no serving copy at {self.path}: run the pipeline (`c360 run`), which "
                "builds it when it publishes"
            ) from None
        identity = (stat.st_dev, stat.st_ino, stat.st_mtime_ns)
        copy: ServingCopy | None = getattr(self._local, "copy", None)
        if copy is None or copy.identity != identity:
            copy = _open(self.path, identity)
            # The previous copy's connection closes once the requests holding it are done.
            self._local.copy = copy
        return copy


def _open(path: Path, identity: tuple[int, int, int]) -> ServingCopy:
    # `immutable`: the file is never written once in place (a new copy is a new file), so
    # SQLite can skip locking and change detection on every read.
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        meta = {
            name: json.loads(value)
            for name, value in connection.execute("select name, value from meta").fetchall()
        }
    except sqlite3.DatabaseError as exc:
        raise ServingCopyMissingError(
            f"{path} is not a serving copy ({exc}): rebuild it with `c360 run`"
        ) from exc
    if meta.get("format") != FORMAT_VERSION:
        raise ServingCopyMissingError(
            f"{path} has format {meta.get('format')}, this code reads {FORMAT_VERSION}: "
            "rebuild it with `c360 run`"
        )
    return ServingCopy(
        connection=connection,
        identity=identity,
        version=meta["version"],
        built_at=datetime.fromisoformat(meta["built_at"]),
        customers=int(meta["customers"]),
        snapshots=meta["snapshots"],
        as_of_day=meta["as_of_day"],
    )


def with_day_counts(
    profile: bytes | None, as_of_day: int | None, *anchors: int | None
) -> bytes | None:
    """A stored profile document with its day counts (`DAY_COUNTS`) added as its last
    members: `as_of_day` minus each of its `anchors` (`DAY_ANCHORS`, in that order; None:
    the customer has no profile)."""
    if profile is None:
        return None
    members = b"".join(
        b',"%s":%s'
        % (
            name.encode(),
            b"null" if anchor is None or as_of_day is None else b"%d" % (as_of_day - anchor),
        )
        for name, anchor in zip(DAY_COUNTS, anchors, strict=True)
    )
    return profile[:-1] + members + b"}"


def join_json(documents: Sequence[bytes]) -> bytes:
    """A JSON array of already serialised JSON documents."""
    return b"[" + b",".join(documents) + b"]"
