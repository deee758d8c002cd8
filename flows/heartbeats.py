"""One heartbeat per process: a flow that runs other flows keeps them from sending their own.

Prefect sends a flow run's heartbeats (how a server tells a crashed deployment run from a
slow one) from a thread that sleeps in one-second steps, and every flow run's end joins
that thread: each nested flow cost up to a second at its end, about 4 s of a daily run's
40. A nested flow runs in its parent's process and thread, whose own heartbeat already
proves it alive.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings


@contextmanager
def parent_heartbeat_only() -> Iterator[None]:
    """Within a flow's body: the flows it calls send no heartbeats of their own.

    The calling flow's heartbeat started before its body, with the settings in force then,
    and keeps beating.
    """
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
