"""The top-N bound over all-time counts finds exactly what one aggregate would (pure, with made-up groups)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from webui.queries import threshold_top

groups = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=0, max_size=60)


def setup(data):
    """(fetch, sums, expected order) for groups given as (in-range count, extra all-time count)."""
    in_range = {gid: n for gid, (n, _) in enumerate(data)}
    total = {gid: n + extra for gid, (n, extra) in enumerate(data)}
    ranked = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
    calls = []

    def fetch(offset, n):
        calls.append(n)
        return ranked[offset:offset + n]

    def sums(ids):
        return {gid: in_range[gid] for gid in ids if in_range[gid]}

    expected = sorted(((g, n) for g, n in in_range.items() if n), key=lambda kv: (-kv[1], kv[0]))
    return fetch, sums, expected, calls


@settings(max_examples=300, deadline=None)
@given(groups, st.integers(1, 70), st.integers(1, 8))
def test_threshold_top_is_exact_or_gives_up(data, need, first):
    fetch, sums, expected, _ = setup(data)
    top = threshold_top(fetch, sums, need, first=first, batches=3)
    assert top is None or top == expected[:need]
    assert threshold_top(fetch, sums, need, first=first, batches=100) == expected[:need]


def test_skewed_counts_settle_in_the_first_batch():
    data = [(1000 - i, 0) for i in range(500)]
    fetch, sums, expected, calls = setup(data)
    assert threshold_top(fetch, sums, 10, first=100, batches=2) == expected[:10]
    assert calls == [100]


def test_flat_counts_give_up_after_the_batches():
    data = [(1, 1000 - i) for i in range(500)]  # large all-time counts, tiny in range
    fetch, sums, _, calls = setup(data)
    assert threshold_top(fetch, sums, 10, first=10, batches=2) is None
    assert calls == [10, 20, 40]
