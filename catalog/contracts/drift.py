"""Schema drift, zero tolerance: a feed whose source changed shape is paused until a
contract version that describes the change is accepted (`c360 contracts accept <feed>`).

Ingestion records every change in `ops.schema_changes` and keeps the data in raw, so
nothing is lost while a feed is paused: staging resumes from the last raw snapshot it
consumed and takes everything held since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from pyiceberg.catalog import Catalog

from catalog.alerts import Alert, raise_alert, resolve_alerts
from catalog.contracts.model import Contract
from catalog.reader import read_rows
from catalog.tables import ops
from catalog.writer import content_batch_id, write

SCHEMA_DRIFT = "schema_drift"


class ContractMismatchError(ValueError):
    """The contract does not describe the changes it is asked to accept."""


@dataclass(frozen=True)
class Change:
    column: str
    change: str  # added, removed, renamed or retyped
    detail: str | None
    detected_at: datetime

    def __str__(self) -> str:
        return f"{self.column} {self.change}" + (f" ({self.detail})" if self.detail else "")


def _acceptances(catalog: Catalog, feed: str) -> pl.DataFrame:
    return read_rows(catalog, ops.CONTRACT_ACCEPTANCES, f"feed = '{feed}'")


def accepted_through(catalog: Catalog, feed: str) -> datetime | None:
    """The newest schema change an acceptance covered for `feed`, if any."""
    rows = _acceptances(catalog, feed)
    return rows["accepted_through"].max() if rows.height else None  # type: ignore[return-value]


def pending_changes(catalog: Catalog, feed: str) -> list[Change]:
    """The schema changes of `feed`'s raw table no acceptance has covered, oldest first."""
    rows = read_rows(catalog, ops.SCHEMA_CHANGES, f"table_name = 'raw.{feed}'")
    since = accepted_through(catalog, feed)
    if since is not None:
        rows = rows.filter(pl.col("detected_at") > since)
    return [
        Change(r["column_name"], r["change"], r["detail"], r["detected_at"])
        for r in rows.sort("detected_at", "column_name").iter_rows(named=True)
    ]


def undescribed(contract: Contract, changes: list[Change]) -> list[Change]:
    """The changes `contract` does not describe: a column added, renamed to or retyped that
    the contract lacks, or a removed column the contract still lists."""
    return [c for c in changes if (c.change == "removed") == (c.column in contract.columns)]


def pause_if_drifted(catalog: Catalog, feed: str, *, run_id: str) -> list[Change]:
    """The pending changes of `feed` (empty: it may run); raise a drift alert for them."""
    changes = pending_changes(catalog, feed)
    if changes:
        detail = "; ".join(str(c) for c in changes)
        raise_alert(catalog, Alert(SCHEMA_DRIFT, feed, detail), run_id=run_id)
    return changes


def accept(
    catalog: Catalog, feed: str, contract: Contract, *, run_id: str | None = None
) -> list[Change]:
    """Accept `feed`'s pending changes under `contract`; the changes accepted. The feed's
    drift alert is resolved, recorded under `run_id` (`catalog.alerts.recorded_by`).

    Raises:
        ContractMismatchError: one line: the contract is not a newer version than the last
            accepted (1 at first), or does not describe some change.
    """
    changes = pending_changes(catalog, feed)
    if not changes:
        return []
    accepted = _acceptances(catalog, feed)
    last_version = int(accepted["version"].max()) if accepted.height else 1  # type: ignore[arg-type]
    if contract.version <= last_version:
        raise ContractMismatchError(
            f"{feed} drifted ({'; '.join(str(c) for c in changes)}) but its contract is still "
            f"version {contract.version}: add a version above {last_version} that describes "
            "the change, then accept"
        )
    missing = undescribed(contract, changes)
    if missing:
        raise ContractMismatchError(
            f"{contract.contract_id} does not describe {', '.join(str(c) for c in missing)}: "
            "update the contract (a new version) before accepting"
        )
    now = datetime.now(UTC)
    row = pl.DataFrame(
        {
            "feed": [feed],
            "contract_id": contract.contract_id,
            "version": contract.version,
            "accepted_through": max(c.detected_at for c in changes),
            "changes": "\n".join(str(c) for c in changes),
            "accepted_at": now,
        }
    )
    batch = content_batch_id(ops.CONTRACT_ACCEPTANCES.identifier_name, feed, now.isoformat())
    write(catalog, ops.CONTRACT_ACCEPTANCES, row, batch_id=batch, run_id="manual")
    resolve_alerts(catalog, SCHEMA_DRIFT, feed, run_id=run_id)
    return changes
