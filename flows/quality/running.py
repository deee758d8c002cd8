"""Running measures: what one run's measurement carries to the next, so that the next reads
only what is new.

A figure defined over a whole table (a staging table's duplicates, the sample of keys an
accuracy check draws, the checksums of every landed file) is kept with the snapshot it
describes. The next run checks that the table only grew since (`catalog.reader.
appended_since`), reads the rows added since, and updates the figure; anything else (a
rebuild, a compaction, the snapshot expired, nothing recorded) computes it from every row
again. Either way the result equals a full computation.

The figures travel on the results (`DqResult.running`) and are recorded, compressed, in the
snapshot summary of the run's `ops.dq_results` commit (`RUNNING`), by feed and metric; each
says how many runs it has been carried since it was last computed in full (`CARRIED`).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.table.snapshots import ancestors_of

from catalog.registry import ensure_table
from catalog.tables import ops
from flows.quality.results import DqResult

RUNNING = "c360.dq-running"
CARRIED = "carried"


def running_property(results: Sequence[DqResult]) -> dict[str, str]:
    """The snapshot-summary entry recording `results`' running measures (none: empty)."""
    running = {f"{r.feed}/{r.metric}": r.running for r in results if r.running is not None}
    if not running:
        return {}
    packed = zlib.compress(json.dumps(running, sort_keys=True).encode())
    return {RUNNING: base64.b64encode(packed).decode()}


def recorded_running(catalog: Catalog) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The running measures the newest `ops.dq_results` commit carrying any recorded, by
    feed and metric."""
    table = ensure_table(catalog, ops.DQ_RESULTS)
    current = table.current_snapshot()
    for snapshot in ancestors_of(current, table.metadata) if current is not None else ():
        packed = snapshot.summary.get(RUNNING) if snapshot.summary is not None else None
        if packed:
            running = json.loads(zlib.decompress(base64.b64decode(packed)))
            return {_feed_metric(key): value for key, value in running.items()}
    return {}


def _feed_metric(key: str) -> tuple[str, str]:
    feed, metric = key.split("/", 1)
    return feed, metric


def carried(prior: Mapping[str, Any] | None) -> dict[str, int]:
    """The `CARRIED` entry of a figure updated from `prior` (None: computed in full)."""
    return {CARRIED: 0 if prior is None else int(prior.get(CARRIED, 0)) + 1}
