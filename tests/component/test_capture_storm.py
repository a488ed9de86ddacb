"""Error storms through the real middleware: repeats fold into weighted events, counts stay exact."""

import pytest
from django.test import Client

from capture import publish
from contracts import codec

STREAM = "errortrail:errors"


class Clock:
    def __init__(self):
        self.now = 5000.0

    def __call__(self):
        return self.now


@pytest.fixture
def storm(capture_site, settings):
    settings.ERRORTRAIL = {**capture_site.settings, "COALESCE_FULL": 2, "MAX_EVENTS_PER_S": 1000}
    publisher = publish.get_publisher()
    clock = Clock()
    publisher.coalescer.clock = clock
    capture_site.publisher, capture_site.clock = publisher, clock
    return capture_site


def events(redis):
    return [codec.decode(fields[b"e"]) for _, fields in redis.xrange(STREAM)]


def test_a_storm_of_one_pattern_costs_a_few_events_and_loses_no_count(storm):
    client = Client()
    storm.trips.take()
    for _ in range(30):
        assert client.get("/pets/101/").status_code == 404
    sent = [trip for trip in storm.trips.take() if "XADD" in trip]
    assert len(sent) == 2  # the first two in full; the other 28 made no round trip at all
    assert [e.weight for e in events(storm.redis)] == [1, 1]

    storm.clock.now += 1.0
    storm.publisher.tick()  # the background thread's tick sends the ended window
    stored = events(storm.redis)
    assert [e.weight for e in stored] == [1, 1, 28] and sum(e.weight for e in stored) == 30
    weighted = stored[-1]
    assert weighted.request == {"coalesced": 28} and weighted.frames == []
    assert (weighted.fingerprint, weighted.route, weighted.cls) == (stored[0].fingerprint, "pets/<int:pk>/", "not_found")


def test_the_next_error_after_the_window_sends_the_held_weight_in_its_round_trip(storm):
    client = Client()
    for _ in range(5):
        client.get("/pets/101/")
    storm.clock.now += 2.0
    storm.trips.take()
    client.get("/teapot/")  # another pattern: a full event, with the ended window in the same pipeline
    assert storm.trips.take() == [["XADD", "XADD", "GET"]]
    assert sorted(e.weight for e in events(storm.redis)) == [1, 1, 1, 3]


def test_held_counts_are_sent_at_process_exit(storm):
    client = Client(raise_request_exception=False)
    for _ in range(10):
        client.get("/crash/")
    storm.publisher.close()  # what the atexit hook runs
    assert sum(e.weight for e in events(storm.redis)) == 10


def test_the_per_second_cap_sends_only_weighted_counts_beyond_it(storm, settings):
    settings.ERRORTRAIL = {**storm.settings, "COALESCE_FULL": 5, "MAX_EVENTS_PER_S": 3}
    publisher = publish.get_publisher()
    publisher.coalescer.clock = storm.clock
    client = Client()
    for i in range(8):
        client.get(f"/missing-{'x' * (i + 1)}/")  # eight different patterns
    full = events(storm.redis)
    assert len(full) == 3 and all(e.weight == 1 for e in full)
    storm.clock.now += 1.0
    publisher.tick()
    assert sum(e.weight for e in events(storm.redis)) == 8


def test_held_occurrences_of_a_known_issue_count_as_page_views(storm):
    from contracts import known

    entry = known.KnownEntry(bug_id="B-004", message="Invoices are broken for rabbits.", error_type="404", glob="/pets/*")
    known.put(storm.redis, storm.publisher.names, entry)
    storm.publisher.known.refresh(storm.redis, storm.publisher.names)
    client = Client()
    for _ in range(6):
        assert b"B-004" in client.get("/pets/101/").content
    storm.clock.now += 1.0
    storm.publisher.tick()
    assert storm.redis.hget("errortrail:known:views", "B-004") == b"6"
    assert [e.known_bug for e in events(storm.redis)] == ["B-004"] * 3
