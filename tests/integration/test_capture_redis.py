"""Capture against the real Redis: the same flow, Redis down, Redis hanging, and every event landing once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from capture import publish
from contracts import codec
from contracts import known as known_map
from contracts.known import KnownEntry
from contracts.names import Names

pytestmark = pytest.mark.integration


@pytest.fixture
def live(settings, real_redis, redis_url, tmp_path):
    """Capture pointed at the real Redis under a unique prefix; returns (client, names, settings dict)."""
    client, prefix = real_redis
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": redis_url, "PREFIX": prefix,
                           "SPOOL_DIR": str(tmp_path / "spool")}
    publish.reset()
    yield client, Names(prefix=prefix)
    publish.reset()


def point_at(settings, url):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": url}


def stream_ids(redis, names):
    return [codec.decode(fields[b"e"]).id for _, fields in redis.xrange(names.errors())]


def requests(count=2):
    """Failing requests of several kinds; their reference ids (and each page was served)."""
    client = Client(raise_request_exception=False)
    csrf = Client(enforce_csrf_checks=True, raise_request_exception=False)
    refs = []
    for _ in range(count):
        for response, status in (
            (client.get("/nope/"), 404),
            (client.get("/crash/"), 500),
            (csrf.post("/appointments/1/book/", {"password": "never-stored"}), 403),
        ):
            assert response.status_code == status
            assert b"Reference: <code>" in response.content
            refs.append(response["X-Error-Reference"])
    return refs


def test_the_capture_flow_on_real_redis(live):
    redis, names = live
    assert Client().get("/").status_code == 200
    assert redis.exists(names.errors()) == 0
    refs = requests(1)
    events = [codec.decode(f[b"e"]) for _, f in redis.xrange(names.errors())]
    assert [e.id for e in events] == refs
    assert [e.cls for e in events] == ["not_found", "app_error", "csrf"]
    assert all(b"never-stored" not in f[b"e"] for _, f in redis.xrange(names.errors()))


def test_a_known_issue_published_on_real_redis_is_shown(live):
    redis, names = live
    known_map.publish(redis, names, [KnownEntry(bug_id="B-044", message="", error_type="404", glob="/nope/*")])
    body = Client(raise_request_exception=False).get("/nope/").content
    assert b"We&#x27;re aware of this problem and working on it." in body and b"B-044" in body
    publish.get_publisher().tick()
    assert redis.hget(names.known_views, "B-044") == b"1"


def test_redis_down_then_flushed_by_the_command(live, settings, closed_port_url, redis_url):
    redis, names = live
    point_at(settings, closed_port_url)
    refs = requests(3)
    publisher = publish.get_publisher()
    assert publisher.breaker.is_open and publisher.spool.has_files()
    publisher.spool.seal_all()
    point_at(settings, redis_url)
    out = io.StringIO()
    call_command("flush_error_spool", stdout=out)
    assert out.getvalue().startswith(f"flushed {len(refs)} events")
    assert sorted(stream_ids(redis, names)) == sorted(refs)
    call_command("flush_error_spool", stdout=io.StringIO())
    assert len(stream_ids(redis, names)) == len(refs)


def test_redis_hanging_then_back(live, settings, hanging_redis):
    redis, names = live
    point_at(settings, hanging_redis.url)
    refs = requests(3)
    publisher = publish.get_publisher()
    assert publisher.breaker.is_open and publisher.spool.has_files()
    assert hanging_redis.accepted >= 1
    assert redis.exists(names.errors()) == 0
    hanging_redis.forward()
    publisher.tick()
    assert not publisher.breaker.is_open
    assert sorted(stream_ids(redis, names)) == sorted(refs)
    assert redis.hget(names.capture_stats, "flushed") == str(len(refs)).encode()
    more = requests(1)
    publisher.tick()
    assert sorted(stream_ids(redis, names)) == sorted(refs + more)


def test_redis_hanging_with_the_background_thread(live, settings, hanging_redis):
    redis, names = live
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": hanging_redis.url, "BACKGROUND": True, "TICK_S": 3600.0}
    publisher = publish.get_publisher()
    thread = publish.worker()
    refs = requests(2)
    assert publisher.spool.has_files()
    hanging_redis.forward()
    assert thread.wait_ticks(2, timeout_s=60)
    assert sorted(stream_ids(redis, names)) == sorted(refs)
    assert not publisher.spool.has_files()
