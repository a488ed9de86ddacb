"""Storm control decisions: full events per window, the per-second cap, weights, windows ending, draining."""

from capture.coalesce import Coalescer


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(window_s=1.0, full=3, per_s=100, keys=100):
    clock = Clock()
    return Coalescer(window_s, full, per_s, keys, clock=clock), clock


def test_the_first_occurrences_of_a_window_go_in_full_and_the_rest_are_weighed():
    coalescer, clock = make(full=3)
    decisions = [coalescer.offer("a", i) for i in range(10)]
    assert decisions == [True] * 3 + [False] * 7
    assert coalescer.pending() == 7
    assert coalescer.due() == []  # the window is still open
    clock.now += 1.0
    ((fingerprint, held),) = coalescer.due()
    assert (fingerprint, held.weight, held.latest) == ("a", 7, 9)
    assert coalescer.pending() == 0


def test_a_new_window_starts_with_full_events_again_and_hands_over_the_old_weight():
    coalescer, clock = make(full=1)
    assert [coalescer.offer("a", i) for i in range(3)] == [True, False, False]
    clock.now += 1.5
    assert coalescer.offer("a", 3) is True  # the old window ended: its weight is ready
    assert [(fp, held.weight) for fp, held in coalescer.due()] == [("a", 2)]


def test_patterns_are_counted_separately():
    coalescer, clock = make(full=1)
    for fp in "abab":
        coalescer.offer(fp, fp)
    clock.now += 1
    assert sorted((fp, held.weight) for fp, held in coalescer.due()) == [("a", 1), ("b", 1)]


def test_the_per_second_cap_turns_full_events_into_weight():
    coalescer, clock = make(full=3, per_s=4)
    decisions = [coalescer.offer(f"fp{i}", i) for i in range(10)]
    assert decisions == [True] * 4 + [False] * 6
    clock.now += 1  # a new second: room again
    assert coalescer.offer("fresh", 0) is True
    assert sum(held.weight for _, held in coalescer.due()) == 6


def test_too_many_patterns_flush_every_window_early_so_memory_stays_bounded():
    coalescer, _ = make(full=1, keys=3)
    for fp in ("a", "a", "b", "b", "c", "c"):
        coalescer.offer(fp, fp)
    assert coalescer.pending() == 3
    coalescer.offer("d", "d")  # a fourth pattern: the three windows close now
    assert sorted((fp, held.weight) for fp, held in coalescer.due()) == [("a", 1), ("b", 1), ("c", 1)]
    assert coalescer.pending() == 0


def test_drain_returns_open_windows_too():
    coalescer, _ = make(full=1)
    for _ in range(5):
        coalescer.offer("a", "x")
    assert [(fp, held.weight) for fp, held in coalescer.drain()] == [("a", 4)]
    assert coalescer.drain() == [] and coalescer.pending() == 0
