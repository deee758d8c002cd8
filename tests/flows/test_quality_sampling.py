"""Samples of keys carried from run to run equal samples drawn from every key."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.quality.sampling import Lowest, carried, digest, lowest, sample_keys

KEYS = st.sets(st.text(alphabet="abcdef0123456789", min_size=1, max_size=6), max_size=80)


def test_the_sample_is_the_keys_whose_sha256_sorts_first() -> None:
    keys = [f"k{i}" for i in range(50)]

    sample = sample_keys(keys + keys, 10)

    assert sample == sorted(keys, key=digest)[:10]
    assert sample_keys(keys[:3], 10) == sorted(keys[:3], key=digest)
    assert lowest(keys, 10).bound == digest(sample[-1])
    assert lowest(keys[:3], 10).bound is None  # every key, so any key added belongs


@settings(max_examples=150, deadline=None)
@given(first=KEYS, changes=st.lists(st.tuples(KEYS, KEYS), max_size=6))
def test_a_carried_sample_equals_one_drawn_from_every_key(
    first: set[str], changes: list[tuple[set[str], set[str]]]
) -> None:
    size, keep = 5, 8
    current = set(first)
    kept = lowest(current, keep)
    for added, removed in changes:
        gone = removed & current
        new = added - current
        current = (current - gone) | new
        kept = carried(kept, new, gone, size=size, keep=keep) or lowest(current, keep)

        assert kept.sample(size) == sample_keys(current, size)
        # Every key under the bound is held, and no other.
        under = {k for k in current if kept.bound is None or digest(k) <= kept.bound}
        assert set(kept.keys) == under
        assert len(kept.keys) <= 2 * keep - size or kept.bound is None


def test_a_sample_that_lost_too_many_keys_asks_for_a_new_draw() -> None:
    keys = [f"k{i}" for i in range(20)]
    kept = lowest(keys, 6)

    assert carried(kept, [], kept.keys[:2], size=5, keep=6) is None
    assert carried(kept, [], kept.keys[:1], size=5, keep=6) == Lowest(kept.keys[1:], kept.bound)
    # Keys added that were there already, or that hash above the bound, change nothing.
    above = next(k for k in keys if k not in kept.keys)
    assert carried(kept, [kept.keys[0], above], size=5, keep=6) == kept
