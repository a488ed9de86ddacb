"""The publisher against fakeredis: one pipeline per error, breaker, spool fallback, counters, threads, forks."""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import pytest
from django.test import Client

from capture import conf, publish
from capture.build import observe, to_event
from contracts import codec
from contracts import known as known_map
from contracts.known import KnownEntry
from contracts.names import Names

STREAM = "errortrail:errors"
NAMES = Names()


def stream_ids(redis):
    return [codec.decode(fields[b"e"]).id for _, fields in redis.xrange(STREAM)]


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def errors(client, count, path="/nope/"):
    """Send `count` failing requests; their reference ids."""
    return [client.get(path)["X-Error-Reference"] for _ in range(count)]


def count_pipelines(publisher, monkeypatch):
    calls = []
    real = publisher.client.pipeline
    monkeypatch.setattr(publisher.client, "pipeline", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    return calls


def test_the_breaker_opens_after_n_failures_and_stops_calling_redis(capture_site, client, monkeypatch):
    client.get("/nope/")  # loads the known map while Redis is up
    publisher = publish.get_publisher()
    attempts = count_pipelines(publisher, monkeypatch)
    capture_site.server.connected = False
    refs = errors(client, 3)
    assert publisher.breaker.is_open and len(attempts) == 3
    refs += errors(client, 4)
    assert len(attempts) == 3  # open: straight to the spool
    assert publisher.spool.has_files()
    capture_site.server.connected = True
    publisher.tick()
    assert not publisher.breaker.is_open
    assert capture_site.redis.hget("errortrail:capture:stats", "breaker_opened") == b"1"
    assert capture_site.redis.hget("errortrail:capture:stats", "spooled") == b"7"
    assert capture_site.redis.hget("errortrail:capture:stats", "flushed") == b"7"
    ids = stream_ids(capture_site.redis)
    assert sorted(ids[1:]) == sorted(refs) and len(ids) == 8
    capture_site.trips.take()
    client.get("/nope/")
    assert capture_site.trips.take() == [["XADD", "GET"]]


def test_a_flush_while_redis_is_still_down_keeps_the_breaker_open(capture_site, client):
    client.get("/nope/")
    capture_site.server.connected = False
    errors(client, 3)
    publisher = publish.get_publisher()
    publisher.tick()  # never raises
    assert publisher.breaker.is_open
    capture_site.server.connected = True
    publisher.tick()
    assert len(stream_ids(capture_site.redis)) == 4


def test_the_breaker_lets_one_trial_through_after_its_reset_time(capture_site, client, settings, monkeypatch):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "BREAKER_RESET_S": 0.0}
    client.get("/nope/")
    publisher = publish.get_publisher()
    capture_site.server.connected = False
    errors(client, 3)
    assert publisher.breaker.is_open
    capture_site.server.connected = True
    ref = errors(client, 1)[0]  # the trial call succeeds and closes the breaker
    assert not publisher.breaker.is_open
    assert ref in stream_ids(capture_site.redis)


def test_the_spool_is_flushed_exactly_once_even_if_the_flusher_fails_after_exec(capture_site, client, monkeypatch):
    client.get("/nope/")
    capture_site.server.connected = False
    refs = errors(client, 5)
    capture_site.server.connected = True
    publisher = publish.get_publisher()
    real_unlink = os.unlink

    def crash_once(path):
        monkeypatch.setattr(os, "unlink", real_unlink)
        raise OSError("disk went away between EXEC and unlink")

    monkeypatch.setattr(os, "unlink", crash_once)
    publisher.tick()  # the MULTI ran; the file stays because unlink failed
    assert publisher.spool.has_files()
    publisher.tick()  # the done marker stops a second XADD
    assert not publisher.spool.has_files()
    ids = stream_ids(capture_site.redis)
    assert sorted(ids[1:]) == sorted(refs) and len(ids) == 6


def test_a_full_spool_drops_and_counts_by_reason(capture_site, client, settings, caplog):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SPOOL_MAX_BYTES": 3000}
    client.get("/nope/")
    capture_site.server.connected = False
    refs = errors(client, 10)
    capture_site.server.connected = True
    publisher = publish.get_publisher()
    publisher.tick()
    publisher.tick()  # the first tick flushed; the drop counters left with it or the next one
    kept = stream_ids(capture_site.redis)[1:]
    dropped = int(capture_site.redis.hget("errortrail:capture:drops", "spool_full"))
    assert dropped > 0 and len(kept) + dropped == 10
    assert kept == refs[: len(kept)]
    assert "errortrail dropped an event: spool_full" in caplog.text


def test_a_spool_that_cannot_be_written_drops_with_its_reason(capture_site, client, settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SPOOL_DIR": str(blocker / "spool")}
    client.get("/nope/")
    capture_site.server.connected = False
    errors(client, 2)
    capture_site.server.connected = True
    publish.get_publisher().tick()
    assert capture_site.redis.hget("errortrail:capture:drops", "spool_error") == b"2"


def test_counters_wait_for_the_tick_and_survive_a_failed_push(capture_site, client):
    known_map.publish(capture_site.redis, NAMES, [KnownEntry(bug_id="B-002", message="", error_type="404", glob="/*")])
    errors(client, 3)
    assert capture_site.redis.exists("errortrail:known:views") == 0
    publisher = publish.get_publisher()
    capture_site.server.connected = False
    publisher.tick()
    capture_site.server.connected = True
    publisher.tick()
    assert capture_site.redis.hget("errortrail:known:views", "B-002") == b"3"
    publisher.tick()
    assert capture_site.redis.hget("errortrail:known:views", "B-002") == b"3"


def test_an_invalid_event_is_dropped_and_counted(capture_site, settings, rf, caplog):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REPORT_INTERNAL_ERRORS": False}
    publisher = publish.get_publisher()
    request = rf.get("/x/")
    event = to_event(observe(request, 404, conf.get()), request, conf.get())
    bad = replace(event, cls="nonsense")
    assert publisher.publish(bad) == publish.DROPPED
    publisher.tick()
    assert capture_site.redis.hget("errortrail:capture:drops", "invalid") == b"1"
    assert "errortrail built an invalid event" in caplog.text


def test_an_invalid_event_raises_when_internal_errors_are_reported(capture_site, rf):
    publisher = publish.get_publisher()
    request = rf.get("/x/")
    event = to_event(observe(request, 404, conf.get()), request, conf.get())
    bad = replace(event, cls="nonsense")
    with pytest.raises(codec.ContractError):
        publisher.publish(bad)


def test_a_new_process_gets_its_own_publisher(capture_site, monkeypatch):
    first = publish.get_publisher()
    assert publish.get_publisher() is first
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 100_000)
    second = publish.get_publisher()
    assert second is not first
    assert publish.get_publisher() is second


def test_a_forked_spool_writes_its_own_files(capture_site, tmp_path, monkeypatch):
    from capture.spool import Spool

    spool = Spool(str(tmp_path / "s"), 10**6)
    assert spool.write("errortrail:errors", b"parent") is None
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 100_000)
    assert spool.write("errortrail:errors", b"child") is None
    names = sorted(os.listdir(tmp_path / "s"))
    assert len(names) == 2 and any(f"-{real_pid + 100_000}-" in n for n in names)


def test_settings_changes_replace_the_publisher(capture_site, settings):
    first = publish.get_publisher()
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "RELEASE": "next"}
    assert publish.get_publisher() is not first


def test_close_flushes_what_is_left(capture_site, client):
    client.get("/nope/")
    capture_site.server.connected = False
    errors(client, 1)
    publisher = publish.get_publisher()
    publisher.close()  # breaker still closed after one failure: the final tick runs (and fails quietly)
    capture_site.server.connected = True
    publish._at_exit()
    assert len(stream_ids(capture_site.redis)) == 2


def test_close_skips_redis_while_the_breaker_is_open(capture_site, client, monkeypatch):
    client.get("/nope/")
    capture_site.server.connected = False
    errors(client, 3)
    publisher = publish.get_publisher()
    monkeypatch.setattr(publisher, "tick", lambda: pytest.fail("must not wait on a dead Redis at exit"))
    publisher.close()
    assert publisher.spool.has_files()


def test_make_client_has_short_timeouts_and_no_retries():
    from redis.backoff import NoBackoff
    import redis

    client = publish.make_client("redis://127.0.0.1:1/0", 0.1, 0.05)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.1, 0.05)
    retry = kwargs["retry"]
    assert retry._retries == 0 and isinstance(retry._backoff, NoBackoff)
    with pytest.raises(redis.ConnectionError):
        client.ping()


# -- the background thread --


@pytest.fixture
def background(capture_site, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "BACKGROUND": True, "TICK_S": 3600.0}
    publisher = publish.get_publisher()
    thread = publish.worker()
    assert thread is not None and thread.is_alive()
    yield publisher, thread
    publish.reset()
    assert not thread.is_alive()


def test_the_background_thread_loads_the_map_and_flushes_the_spool(capture_site, background, client):
    publisher, thread = background
    assert thread.wait_ticks(1, timeout_s=30)
    assert publisher.known.loaded
    capture_site.trips.take()
    client.get("/nope/")
    assert capture_site.trips.take() == [["XADD", "GET"]]  # the map was already there
    capture_site.server.connected = False
    refs = errors(client, 3)
    capture_site.server.connected = True
    assert thread.wait_ticks(2, timeout_s=30)
    assert set(refs) <= set(stream_ids(capture_site.redis))
    assert not publisher.spool.has_files()


def test_a_known_map_change_wakes_the_thread(capture_site, background, client):
    publisher, thread = background
    assert thread.wait_ticks(1, timeout_s=30)
    version = known_map.publish(capture_site.redis, NAMES, [KnownEntry(bug_id="B-031", message="", error_type="404", glob="/*")])
    client.get("/nope/")  # its pipeline sees the new version and wakes the thread (TICK_S is an hour)
    with thread.ticked:
        assert thread.ticked.wait_for(lambda: publisher.known.map.version == version, timeout=30)
    assert b"B-031" in client.get("/nope/").content


def test_the_background_thread_survives_redis_errors(capture_site, background, caplog):
    publisher, thread = background
    capture_site.server.connected = False
    publisher.count(NAMES.capture_stats, "probe")
    with caplog.at_level(logging.DEBUG, logger="capture.publish"):
        assert thread.wait_ticks(2, timeout_s=30)
    assert thread.is_alive()
    assert "errortrail background step _push_counts" in caplog.text
    capture_site.server.connected = True
    assert thread.wait_ticks(2, timeout_s=30)
    assert capture_site.redis.hget(NAMES.capture_stats, "probe") == b"1"


def test_a_bug_in_a_background_step_is_logged(capture_site, settings, monkeypatch, caplog):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REPORT_INTERNAL_ERRORS": False}
    publisher = publish.get_publisher()
    monkeypatch.setattr(publisher, "_push_counts", lambda: 1 / 0)
    publisher.tick()
    assert "errortrail background step" in caplog.text
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REPORT_INTERNAL_ERRORS": True}
    publisher = publish.get_publisher()
    monkeypatch.setattr(publisher, "_push_counts", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        publisher.tick()


def test_waiting_for_ticks_gives_up_at_its_deadline(capture_site, background):
    _, thread = background
    assert thread.wait_ticks(1, timeout_s=30)
    assert thread.wait_ticks(1, timeout_s=0) is False
