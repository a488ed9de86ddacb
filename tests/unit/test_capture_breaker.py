"""The circuit breaker (pure, with a fake clock)."""

from __future__ import annotations

from capture.publish import Breaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_opens_after_n_consecutive_failures():
    breaker = Breaker(3, 5.0, Clock())
    assert [breaker.failure() for _ in range(3)] == [False, False, True]
    assert breaker.is_open and not breaker.allow()


def test_a_success_resets_the_count():
    breaker = Breaker(3, 5.0, Clock())
    breaker.failure()
    breaker.failure()
    breaker.success()
    assert not breaker.failure() and not breaker.is_open


def test_one_trial_after_the_reset_time_then_closed_or_open_again():
    clock = Clock()
    breaker = Breaker(1, 5.0, clock)
    breaker.failure()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert not breaker.allow()  # only one trial at a time
    assert not breaker.failure()  # the trial failed: open for another period
    assert not breaker.allow()
    clock.now += 5.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open and breaker.allow() and breaker.allow()
