"""The demo's last-resort Redis (fakeredis[lua]'s TCP server in run.py) speaks what every demo process needs:
the projector's Lua lease scripts and fenced reads, XAUTOCLAIM, blocking reads woken from another connection,
and the BRPOP/LPUSH Celery's Redis transport uses."""

from __future__ import annotations

import contextlib
import threading

import pytest
import redis

from demo import run
from projector import lease as lease_mod
from projector import stream as stream_mod


@pytest.fixture
def url():
    with contextlib.ExitStack() as stack:
        yield run.start_fakeredis(stack).url


def test_the_projector_lease_scripts_run_on_the_tcp_server(url):
    client = redis.Redis.from_url(url)
    first = lease_mod.Lease(client, "demo-test:lease", "projector-a", ttl_s=5)
    second = lease_mod.Lease(client, "demo-test:lease", "projector-b", ttl_s=5)
    assert first.acquire() and first.renew() and first.holder() == "projector-a"
    assert not second.acquire()  # Lua compare: held by another consumer
    again = lease_mod.Lease(client, "demo-test:lease", "projector-a", ttl_s=5)
    assert again.acquire()  # the same consumer's next incarnation takes it back
    assert not first.renew()  # and the old token is fenced out
    again.release()
    assert second.acquire() and second.holder() == "projector-b"


def test_fenced_reads_claims_and_acks_on_the_tcp_server(url):
    client = redis.Redis.from_url(url)
    stream_mod.ensure_group(client, "demo-test:errors", "projector")
    ids = [client.xadd("demo-test:errors", {"e": f"event-{i}".encode()}).decode() for i in range(3)]
    reader = stream_mod.Reader(client, "demo-test:errors", "projector", "projector-a", "demo-test:dead")
    entries, tail, caught_up = reader.read_new("0-0", count=10)
    assert [e[0] for e in entries] == ids and tail == ids[-1] and not caught_up
    # projector-a dies holding them: XAUTOCLAIM hands them to projector-b.
    next_id, claimed, deleted = client.xautoclaim("demo-test:errors", "projector", "projector-b", 0, "0-0", count=10)
    assert [c[0].decode() for c in claimed] == ids and deleted == []
    client.xack("demo-test:errors", "projector", *ids)
    assert client.xpending("demo-test:errors", "projector")["pending"] == 0
    assert reader.read_new(tail, count=10)[2] is True  # caught up


def test_a_blocking_read_is_woken_by_another_connection(url):
    reader, writer = redis.Redis.from_url(url), redis.Redis.from_url(url)
    writer.xadd("demo-test:signals", {"e": b"first"})
    got: list = []
    started = threading.Event()

    def block() -> None:
        started.set()
        got.extend(reader.xread({"demo-test:signals": "$"}, count=1, block=30_000))

    thread = threading.Thread(target=block)
    thread.start()
    started.wait(10)
    # XADD until the reader has registered its wait and returns with an entry (one XADD is usually enough).
    for _ in range(200):
        writer.xadd("demo-test:signals", {"e": b"wake"})
        thread.join(0.05)
        if not thread.is_alive():
            break
    assert not thread.is_alive() and got and got[0][1][0][1] == {b"e": b"wake"}


def test_celery_transport_commands(url):
    client = redis.Redis.from_url(url)
    client.lpush("demo-test:celery:celery", b"task-message")
    assert client.brpop(["demo-test:celery:celery", "demo-test:celery:other"], timeout=5) == (
        b"demo-test:celery:celery", b"task-message")
    with client.pipeline() as pipe:
        pipe.zadd("demo-test:celery:unacked_index", {"tag": 1.0}).hset("demo-test:celery:unacked", "tag", b"m")
        assert pipe.execute() == [1, 1]
