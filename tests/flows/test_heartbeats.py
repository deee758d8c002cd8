"""A flow's nested flows send no heartbeats of their own; the flow itself still does."""

from __future__ import annotations

from prefect import flow
from prefect.settings import get_current_settings

from flows.heartbeats import parent_heartbeat_only


@flow
def nested() -> int | None:
    # What the flow engine reads to decide whether this run starts a heartbeat thread.
    return get_current_settings().flows.heartbeat_frequency


@flow
def parent() -> tuple[int | None, int | None, int | None]:
    own = get_current_settings().flows.heartbeat_frequency
    with parent_heartbeat_only():
        inside = nested()
    return own, inside, nested()


def test_only_the_flow_outside_beats() -> None:
    own, inside, after = parent()

    assert own is not None
    assert own >= 30
    assert inside is None
    assert after == own
