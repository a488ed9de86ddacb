"""The in-process known-issue cache against fakeredis: loads, version checks, matching."""

from __future__ import annotations

import fakeredis
import pytest

from capture.known import KnownCache
from contracts import known as known_map
from contracts.known import KnownEntry
from contracts.names import Names

NAMES = Names(prefix="t:")
FP = "a" * 64


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def redis():
    return fakeredis.FakeRedis()


def test_the_first_load_then_version_checks(redis):
    clock = Clock()
    cache = KnownCache(2.0, clock)
    assert not cache.loaded and cache.due()
    known_map.publish(redis, NAMES, [KnownEntry(bug_id="B-001", message="m", fingerprint=FP)])
    assert cache.refresh(redis, NAMES)
    assert cache.loaded and cache.match(FP, "500", "/x/").bug_id == "B-001"
    assert not cache.due()
    clock.now = 2.0
    assert cache.due()
    assert not cache.refresh(redis, NAMES)  # same version: nothing reloaded
    assert not cache.due()


def test_a_version_seen_by_a_publish_makes_it_due(redis):
    cache = KnownCache(3600.0, Clock())
    cache.refresh(redis, NAMES)
    assert not cache.note_version(b"0")
    assert cache.note_version(b"7")
    assert cache.due()
    version = known_map.put(redis, NAMES, KnownEntry(bug_id="B-002", message="", error_type="404", glob="/pets/*"))
    assert cache.refresh(redis, NAMES)
    assert cache.map.version == version
    assert cache.match("b" * 64, "404", "/pets/9/").bug_id == "B-002"
    assert cache.match("b" * 64, "404", "/owners/9/") is None


def test_invalid_entries_are_skipped_and_logged(redis, caplog):
    redis.hset(NAMES.known, "fp:" + FP, "not json")
    redis.incr(NAMES.known_version)
    cache = KnownCache(1.0, Clock())
    cache.refresh(redis, NAMES)
    assert cache.loaded and cache.match(FP, "500", "/") is None
    assert "skipped 1 invalid entries" in caplog.text
