"""read_ahead: items produced in a thread, errors re-raised, the thread stopped when the consumer stops."""

from __future__ import annotations

import itertools
import threading

import pytest

from projector.prefetch import read_ahead


def test_items_arrive_in_order():
    assert list(read_ahead(iter(range(50)), depth=3)) == list(range(50))


def test_a_producer_error_reaches_the_consumer():
    def broken():
        yield 1
        raise ValueError("bad page")

    items = read_ahead(broken())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad page"):
        next(items)


def test_closing_early_stops_the_producer():
    before = threading.active_count()
    items = read_ahead(itertools.count(), depth=1)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert threading.active_count() == before
