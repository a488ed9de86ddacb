"""The generic reliable consumer on fakeredis: ack after handling, pending drain, claims, dead letters, outages."""

from __future__ import annotations

import fakeredis
import pytest
import redis

from bugbot.consumer import ConsumerConfig, Message, Reject, StreamConsumer, _id
from contracts import codec, ids
from contracts.events import BugFiled
from tests.bugbot_support.factories import fp

STREAM, GROUP, DEAD = "t:signals", "bugbot", "t:signals:dead"


class Boom(Exception):
    pass


class Transient(Exception):
    pass


def config(**overrides):
    base = dict(stream=STREAM, group=GROUP, consumer="c1", dead_stream=DEAD, heartbeat_key="t:hb:c1", role="test",
                block_ms=10, backoff_base_s=0.0, backoff_max_s=0.0, claim_every_s=3600, tick_every_s=3600)
    base.update(overrides)
    return ConsumerConfig(**base)


def event(n=0):
    return BugFiled(id=ids.new_id(), ts=1, fingerprint=fp(n), bug_id=f"B-{n:03d}", issue_url="/x", backend="local")


@pytest.fixture
def r():
    return fakeredis.FakeRedis()


def add(r, *events):
    return [_id(r.xadd(STREAM, {"e": codec.encode(e)})) for e in events]


def dead(r):
    return [{k.decode(): v.decode() for k, v in f.items() if k != b"e"} for _, f in r.xrange(DEAD)]


def pending(r):
    return r.xpending(STREAM, GROUP)["pending"]


def test_handles_acks_and_exits_when_idle(r):
    seen = []
    consumer = StreamConsumer(r, config(), lambda ms: seen.extend(m.event.bug_id for m in ms))
    add(r, event(1), event(2))
    assert consumer.run(until_idle=True) == 0
    assert seen == ["B-001", "B-002"] and pending(r) == 0
    assert consumer.stats.processed == 2 and not r.exists("t:hb:c1")


def test_heartbeat_while_running_and_graceful_stop(r):
    beats = []

    def handle(messages):
        beats.append(r.hgetall("t:hb:c1"))
        consumer.stop()

    consumer = StreamConsumer(r, config(), handle)
    add(r, event(1), event(2))
    consumer.run()
    assert beats[0][b"role"] == b"test" and beats[0][b"state"] == b"running" and r.ttl("t:hb:c1") == -2
    assert pending(r) == 0  # the batch in hand was finished and acked before stopping


def test_undecodable_and_rejected_entries_go_to_dead_letters(r):
    r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    r.xadd(STREAM, {"e": b"\xc1garbage"})
    r.xadd(STREAM, {"other": b"x"})
    add(r, event(1), event(2))
    handled = []

    def handle(messages):
        for m in messages:
            if m.event.bug_id == "B-002":
                raise Reject("not for us")
        handled.extend(m.event.bug_id for m in messages)

    StreamConsumer(r, config(), handle).run(until_idle=True)
    reasons = [d["reason"] for d in dead(r)]
    assert reasons[0].startswith("undecodable: not msgpack") and reasons[1].startswith("undecodable")
    assert reasons[2] == "rejected: not for us"
    assert handled == ["B-001"] and pending(r) == 0
    assert dead(r)[2]["group"] == GROUP and dead(r)[2]["stream"] == STREAM


def test_a_poison_entry_is_isolated_retried_then_dead_lettered(r):
    add(r, event(1), event(2), event(3))
    calls = []

    def handle(messages):
        calls.append([m.event.bug_id for m in messages])
        if any(m.event.bug_id == "B-002" for m in messages):
            raise Boom("cannot handle B-002")

    consumer = StreamConsumer(r, config(max_failures=3), handle)
    consumer.run(until_idle=True)
    assert calls[0] == ["B-001", "B-002", "B-003"]
    assert calls[1:4] == [["B-001"], ["B-002"], ["B-003"]]
    assert calls.count(["B-002"]) == 3 and calls.count(["B-001"]) == 1
    assert [d["reason"] for d in dead(r)] == ["handler failed 3 times: cannot handle B-002"]
    assert pending(r) == 0 and consumer.stats.failed == 3


def test_transient_errors_hold_the_batch_without_rereading(r):
    add(r, event(1))
    calls = []

    def handle(messages):
        calls.append(messages[0].deliveries)
        if len(calls) < 3:
            raise Transient("database is down")

    consumer = StreamConsumer(r, config(), handle, transient=(Transient,))
    consumer.run(until_idle=True)
    assert calls == [1, 1, 1] and pending(r) == 0  # retried from memory: never re-read, never redelivered
    assert r.xpending_range(STREAM, GROUP, "-", "+", 10) == []
    assert consumer.stats.errors == 2 and "database is down" in consumer.stats.last_error


def test_transient_error_in_isolation_is_held_too(r):
    add(r, event(1), event(2))
    calls = []

    def handle(messages):
        calls.append([m.event.bug_id for m in messages])
        if len(messages) > 1:
            raise Boom("batch")
        if messages[0].event.bug_id == "B-002" and calls.count(["B-002"]) == 1:
            raise Transient("blip")

    StreamConsumer(r, config(), handle, transient=(Transient,)).run(until_idle=True)
    assert calls == [["B-001", "B-002"], ["B-001"], ["B-002"], ["B-002"]] and pending(r) == 0


def test_restart_drains_its_own_pending_entries_first(r):
    r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    add(r, event(1), event(2))
    r.xreadgroup(GROUP, "c1", {STREAM: ">"}, count=10)  # read by a c1 that then died
    add(r, event(3))
    seen = []
    StreamConsumer(r, config(count=1), lambda ms: seen.extend(m.event.bug_id for m in ms)).run(until_idle=True)
    assert seen == ["B-001", "B-002", "B-003"] and pending(r) == 0


def test_entries_redelivered_too_often_are_dead_lettered(r):
    r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    add(r, event(1))
    for _ in range(5):
        r.xreadgroup(GROUP, "c1", {STREAM: "0" if _ else ">"}, count=10)
    StreamConsumer(r, config(max_deliveries=5), lambda ms: pytest.fail("must not be handled")).run(until_idle=True)
    assert dead(r)[0]["reason"].startswith("delivered 6 times") and pending(r) == 0


def test_autoclaim_takes_over_a_dead_consumers_entries(r):
    r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    add(r, event(1), event(2))
    r.xreadgroup(GROUP, "dead-one", {STREAM: ">"}, count=10)
    seen = []
    consumer = StreamConsumer(r, config(claim_idle_ms=0, claim_every_s=0), lambda ms: seen.extend(
        m.event.bug_id for m in ms))
    consumer.run(until_idle=True)
    assert seen == ["B-001", "B-002"] and consumer.stats.claimed == 2 and pending(r) == 0


def test_an_entry_trimmed_while_pending_is_acked(r):
    r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    first, _ = add(r, event(1), event(2))
    r.xreadgroup(GROUP, "c1", {STREAM: ">"}, count=10)
    r.xdel(STREAM, first)
    seen = []
    StreamConsumer(r, config(), lambda ms: seen.extend(m.event.bug_id for m in ms)).run(until_idle=True)
    assert seen == ["B-002"] and pending(r) == 0


def test_redis_outage_backs_off_and_recovers(r):
    class Flaky:
        def __init__(self, inner, failures):
            self.inner, self.failures = inner, failures

        def __getattr__(self, name):
            attr = getattr(self.inner, name)
            if name != "xreadgroup":
                return attr

            def call(*a, **k):
                if self.failures:
                    self.failures -= 1
                    raise redis.ConnectionError("Redis went away")
                return attr(*a, **k)

            return call

    add(r, event(1))
    seen = []
    consumer = StreamConsumer(Flaky(r, 2), config(), lambda ms: seen.extend(m.event.bug_id for m in ms))
    consumer.run(until_idle=True)
    assert seen == ["B-001"] and consumer.stats.errors == 2 and pending(r) == 0


def test_tick_runs_and_group_errors_other_than_busygroup_raise(r):
    ticks = []
    StreamConsumer(r, config(), lambda ms: None, tick=lambda: ticks.append(1)).run(until_idle=True)
    assert ticks == [1]
    r.set("t:not-a-stream", "x")
    with pytest.raises(redis.ResponseError):
        StreamConsumer(r, config(stream="t:not-a-stream"), lambda ms: None).ensure_group()


def test_read_accepts_resp3_shapes():
    class Resp3:
        def xreadgroup(self, *a, **k):
            return {b"s": [[(b"1-0", {b"e": b"x"})]]}

    consumer = StreamConsumer(Resp3(), config(), lambda ms: None)
    assert consumer._read(">") == [(b"1-0", {b"e": b"x"})]
    assert Message("1-0", None).deliveries == 1
