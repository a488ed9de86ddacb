"""The consumer loop on fakeredis and the test database: exactly once, dead letters, leases, claims, signals."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis
from django.db import DataError, IntegrityError, OperationalError

from contracts import codec
from contracts import known as known_map
from contracts.events import ThresholdCrossed
from contracts.known import KnownEntry
from contracts.names import EVENT_FIELD, GROUP_PROJECTOR
from projector import loop as loop_module
from projector.process import Backoff, install_signal_handlers
from projector.models import Checkpoint, ClassHourly, ErrorGroup, ErrorHourly, ErrorLog, GroupUser
from projector.store import Fenced, Store
from tests.projector_support.factories import BASE_MS, counts, event, expected, fingerprint, xadd

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def wait_for(predicate, timeout=20.0):
    """Poll a condition (another thread's progress) with a generous timeout."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def signals(client, names):
    return [codec.decode(f[b"e"]) for _, f in client.xrange(names.signals)]


def dead_letters(client, names, shard=0):
    return [{k.decode(): v for k, v in f.items()} for _, f in client.xrange(names.dead(shard))]


def pending(client, names, shard=0):
    return client.xpending(names.errors(shard), GROUP_PROJECTOR)["pending"]


def test_every_count_is_exact_and_samples_hours_users_follow(make_projector, fake_redis, names):
    evs = [event(i % 3, ts=BASE_MS + i * 30_000, user_id=str(i % 4), weight=1 + i % 2) for i in range(240)]
    ids = xadd(fake_redis, names, evs)
    p = make_projector()
    assert p.run() == 0
    assert counts() == expected(evs)
    assert sum(ErrorHourly.objects.values_list("count", flat=True)) == sum(e.weight for e in evs)
    assert set(ClassHourly.objects.values_list("cls", flat=True)) == {"app_error"}
    assert ErrorLog.objects.count() == 240  # two events per minute per group: all kept
    assert set(ErrorGroup.objects.values_list("users", flat=True)) == {4}
    assert GroupUser.objects.count() == 12
    ck = Checkpoint.objects.get(stream=names.errors())
    assert ck.last_id == ids[-1] and ck.applied == 240 and ck.owner == "test-consumer"
    assert pending(fake_redis, names) == 0
    assert p.stats.events == 240 and p.stats.dead == 0
    assert not fake_redis.exists(names.heartbeat("projector", "test-consumer"))


def test_samples_are_rate_limited_but_counts_are_not(make_projector, projector_settings, fake_redis, names):
    projector_settings(SAMPLES_PER_MINUTE=2, PROJECTOR_BATCH_COUNT=7)
    evs = [event(1, ts=BASE_MS + i) for i in range(30)]
    xadd(fake_redis, names, evs)
    make_projector().run()
    assert counts() == {fingerprint(1): 30}
    assert list(ErrorLog.objects.order_by("timestamp").values_list("event_id", flat=True)) == [evs[0].id, evs[1].id]


def test_poison_entries_go_to_the_dead_letters_and_are_acked(make_projector, fake_redis, names):
    good = [event(1), event(2)]
    stream = names.errors()
    fake_redis.xadd(stream, {EVENT_FIELD: codec.encode(good[0])})
    garbage = fake_redis.xadd(stream, {EVENT_FIELD: b"\xc1not msgpack"})
    wrong_type = ThresholdCrossed(
        id=good[0].id, ts=BASE_MS, fingerprint=fingerprint(1), basis="b", title="t", cls="app_error",
        error_type="500", status=500, method="GET", path="/", count=3, threshold=3, first_seen=BASE_MS,
        last_seen=BASE_MS)
    fake_redis.xadd(stream, {EVENT_FIELD: codec.encode(wrong_type)})
    fake_redis.xadd(stream, {"other": b"x"})
    fake_redis.xadd(stream, {EVENT_FIELD: codec.encode(good[1])})
    p = make_projector()
    p.run()
    assert counts() == expected(good)
    dead = dead_letters(fake_redis, names)
    assert [d["id"].decode() for d in dead][0] == garbage.decode()
    reasons = [d["reason"].decode() for d in dead]
    assert reasons[0].startswith("not msgpack") and "expected error.observed" in reasons[1]
    assert "no event field" in reasons[2] and len(dead) == 3
    assert dead[0][EVENT_FIELD] == b"\xc1not msgpack" and dead[0]["stream"].decode() == stream
    assert pending(fake_redis, names) == 0 and p.stats.dead == 3


def test_an_entry_delivered_too_often_is_dead_lettered_not_applied(make_projector, projector_settings, fake_redis,
                                                                    names):
    projector_settings(PROJECTOR_MAX_DELIVERIES=3)
    stream = names.errors()
    fake_redis.xgroup_create(stream, GROUP_PROJECTOR, id="0", mkstream=True)
    xadd(fake_redis, names, [event(1)])
    fake_redis.xreadgroup(GROUP_PROJECTOR, "crashy", {stream: ">"})
    for _ in range(3):  # each crash-and-restart re-reads it
        fake_redis.xreadgroup(GROUP_PROJECTOR, "crashy", {stream: "0"})
    xadd(fake_redis, names, [event(2)])
    make_projector().run()
    assert counts() == {fingerprint(2): 1}
    [dead] = dead_letters(fake_redis, names)
    assert dead["reason"] == b"delivered 5 times (limit 3)"
    assert pending(fake_redis, names) == 0


def test_a_lost_ack_after_commit_never_double_counts(make_projector, fake_redis, names, monkeypatch):
    evs = [event(i % 2, ts=BASE_MS + i) for i in range(10)]
    xadd(fake_redis, names, evs)
    real_finish = loop_module.Reader.finish
    calls = []

    def flaky_finish(self, ids, dead):
        calls.append(list(ids))
        if len(calls) == 1:
            raise redis.ConnectionError("connection lost after commit")
        return real_finish(self, ids, dead)

    monkeypatch.setattr(loop_module.Reader, "finish", flaky_finish)
    p = make_projector()
    p.run()
    assert counts() == expected(evs)
    assert p.stats.skipped == 10 and calls[1] == calls[0]
    assert pending(fake_redis, names) == 0


def test_nothing_is_acked_before_the_commit(make_projector, fake_redis, names, monkeypatch):
    evs = [event(1, ts=BASE_MS + i) for i in range(5)]
    xadd(fake_redis, names, evs)
    order = []
    real_apply, real_finish = Store.apply, loop_module.Reader.finish

    def failing_once(self, *args, **kwargs):
        if not order:
            order.append("apply failed")
            raise OperationalError("database went away")
        order.append("committed")
        return real_apply(self, *args, **kwargs)

    def finish(self, ids, dead):
        order.append(f"acked {len(ids)}")
        return real_finish(self, ids, dead)

    monkeypatch.setattr(Store, "apply", failing_once)
    monkeypatch.setattr(type(make_projector().store), "apply", failing_once)
    monkeypatch.setattr(loop_module.Reader, "finish", finish)
    make_projector().run()
    assert order == ["apply failed", "committed", "acked 5"]
    assert counts() == expected(evs)


def test_a_standby_takes_over_when_the_holder_lets_go(make_projector, fake_redis, names):
    xadd(fake_redis, names, [event(1)])
    active, standby = make_projector(consumer="a"), make_projector(consumer="b")
    active.heartbeat()
    active.manage_leases()
    standby.manage_leases()
    standby.heartbeat()
    assert list(active.held) == [0] and not standby.held
    state = fake_redis.hgetall(names.heartbeat("projector", "b"))
    assert state[b"state"] == b"standby" and state[b"shards"] == b""
    active.shutdown()
    standby.manage_leases()
    assert list(standby.held) == [0]
    standby.run()
    assert counts() == {fingerprint(1): 1}


def test_a_restarted_consumer_reclaims_its_own_lease_at_once(make_projector, fake_redis, names):
    first = make_projector(consumer="stable")
    first.manage_leases()
    assert first.held  # then it dies without releasing the lease
    again = make_projector(consumer="stable")
    again.manage_leases()
    assert list(again.held) == [0] and again.held[0].epoch == first.held[0].epoch + 1
    assert make_projector(consumer="other").leases[0].acquire() is False


def test_an_old_holder_is_fenced_at_commit(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_PREFETCH=False)
    xadd(fake_redis, names, [event(1)])
    old, new = make_projector(consumer="old"), make_projector(consumer="new")
    old.manage_leases()
    shard = old.held[0]
    new.leases[0].acquire(force=True)  # as if the old one had paused past its lease
    new.take(0)
    with pytest.raises(Fenced):
        old.store.apply(shard.stream, shard.epoch, shard.last, (1, 0), [("1-0", event(9))], old.known, old.rules)
    shard.claim_from = None
    old.step(shard)
    assert not old.held  # it read, could not commit, and let go
    new.run()  # claims what the old one read past its tail
    assert counts() == {fingerprint(1): 1}


def test_a_fenced_batch_is_not_acked(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_PREFETCH=False)
    old, new = make_projector(consumer="old"), make_projector(consumer="new")
    old.manage_leases()
    xadd(fake_redis, names, [event(1)])
    entries, _, _ = old.held[0].reader.read_new(old.held[0].tail, 10)
    new.leases[0].acquire(force=True)
    new.take(0)
    old.handle(old.held[0], entries, None)
    assert not old.held and pending(fake_redis, names) == 1
    new.run()
    assert counts() == {fingerprint(1): 1} and pending(fake_redis, names) == 0


def test_a_dead_consumers_pending_entries_are_claimed_at_takeover(make_projector, fake_redis, names):
    stream = names.errors()
    fake_redis.xgroup_create(stream, GROUP_PROJECTOR, id="0", mkstream=True)
    evs = [event(i, ts=BASE_MS + i) for i in range(6)]
    xadd(fake_redis, names, evs[:4])
    fake_redis.xreadgroup(GROUP_PROJECTOR, "dead-one", {stream: ">"}, count=4)  # then it crashed
    xadd(fake_redis, names, evs[4:])
    make_projector().run()
    assert counts() == expected(evs)
    assert pending(fake_redis, names) == 0


def test_the_periodic_claim_takes_entries_left_idle(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_CLAIM_IDLE_MS=50_000, PROJECTOR_PREFETCH=False)
    p = make_projector()
    p.manage_leases()
    stream = names.errors()
    ids = xadd(fake_redis, names, [event(1), event(2)])
    fake_redis.xreadgroup(GROUP_PROJECTOR, "ghost", {stream: ">"}, count=2)
    fake_redis.xclaim(stream, GROUP_PROJECTOR, "ghost", 0, ids, idle=100_000, justid=True)
    p.run()
    assert counts() == {fingerprint(1): 1, fingerprint(2): 1}
    assert pending(fake_redis, names) == 0


def test_signals_are_published_after_commit_and_marked_sent(make_projector, fake_redis, names):
    evs = [event(1, ts=BASE_MS + i, user_id="5") for i in range(4)] + [event(2, cls="probe")] * 3
    xadd(fake_redis, names, evs)
    make_projector().run()
    [signal_] = signals(fake_redis, names)
    assert signal_.fingerprint == fingerprint(1) and signal_.count == 4 and signal_.threshold == 3
    assert signal_.ts == evs[2].ts and signal_.users == 1 and not signal_.regression
    assert signal_.first_seen == BASE_MS and signal_.last_seen == BASE_MS + 3
    assert signal_.sample_event_id in {e.id for e in evs[:4]} and signal_.sample_request
    group = ErrorGroup.objects.get(fingerprint=fingerprint(1))
    assert group.signal_id == signal_.id and not group.signal_pending and group.signalled_at is not None
    assert ErrorGroup.objects.get(fingerprint=fingerprint(2)).threshold_crossed_at is not None


def test_a_signal_that_could_not_be_sent_is_sent_later(make_projector, fake_redis, names, monkeypatch):
    xadd(fake_redis, names, [event(1)] * 3)
    real = loop_module.announce
    attempts = []

    def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise redis.ConnectionError("Redis blinked")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_module, "announce", flaky)
    p = make_projector()
    p.run()
    assert len(attempts) == 2 and len(signals(fake_redis, names)) == 1
    assert not ErrorGroup.objects.get().signal_pending and p.stats.signals == 1


def test_known_issues_suppress_signals_and_the_map_reloads_when_it_changes(make_projector, fake_redis, names):
    entry = KnownEntry(bug_id="B-7", message="known", fingerprint=fingerprint(1))
    known_map.publish(fake_redis, names, [entry])
    xadd(fake_redis, names, [event(1)] * 3 + [event(2)] * 3)
    p = make_projector()
    p.run()
    assert [s.fingerprint for s in signals(fake_redis, names)] == [fingerprint(2)]
    version = known_map.remove(fake_redis, names, entry.key)
    xadd(fake_redis, names, [event(3)])
    p.run()
    assert p.known.version == version and len(p.known) == 0


def test_a_resolved_group_regresses_with_a_signal(make_projector, fake_redis, names):
    xadd(fake_redis, names, [event(1, ts=BASE_MS + i) for i in range(3)])
    p = make_projector()
    p.run()
    ErrorGroup.objects.update(state=ErrorGroup.RESOLVED)
    xadd(fake_redis, names, [event(1, ts=BASE_MS + 99)])
    p.run()
    group = ErrorGroup.objects.get()
    assert group.state == ErrorGroup.UNRESOLVED and group.regressed_at is not None and group.count == 4
    first, second = signals(fake_redis, names)
    assert not first.regression and second.regression and second.id != first.id


def test_shards_are_all_consumed_by_one_projector(make_projector, projector_settings, fake_redis):
    projector_settings(SHARDS=2)
    from projector import conf

    names = conf.names()
    evs = [event(i) for i in range(20)]
    xadd(fake_redis, names, evs)
    assert fake_redis.xlen(names.errors(0)) and fake_redis.xlen(names.errors(1))
    p = make_projector()
    p.run()
    assert counts() == expected(evs)
    assert set(Checkpoint.objects.values_list("stream", flat=True)) == set(names.all_errors())


def test_projectors_split_the_shards(make_projector, projector_settings, fake_redis):
    projector_settings(SHARDS=4)
    a, b = make_projector(consumer="a"), make_projector(consumer="b")
    a.heartbeat()
    a.manage_leases()
    assert sorted(a.held) == [0, 1, 2, 3]
    b.heartbeat()
    b.manage_leases()
    assert not b.held
    a.manage_leases()  # two live projectors now: keeps a fair half
    b.manage_leases()
    assert sorted(a.held) == [0, 1] and sorted(b.held) == [2, 3]
    a.shutdown()
    b.shutdown()


def test_max_shards_pins_how_many_one_process_holds(make_projector, projector_settings):
    projector_settings(SHARDS=3, PROJECTOR_MAX_SHARDS=1)
    p = make_projector(shards=[1, 2])
    p.manage_leases()
    assert list(p.held) == [1]
    p.shutdown()


def test_a_refused_batch_is_retried_safely_then_entry_by_entry(make_projector, fake_redis, names, monkeypatch):
    evs = [event(1), event(2), event(3)]
    xadd(fake_redis, names, evs)
    store_cls = type(make_projector().store)
    real_apply = store_cls.apply
    calls = []

    def picky(self, stream, epoch, last, new_last, entries, known, rules, safe=False):
        calls.append((len(entries), safe))
        if len(entries) > 1:
            raise IntegrityError("duplicate key") if not safe else DataError("value too long")
        if entries[0][1].fingerprint == fingerprint(2):
            raise DataError("value too long for type character varying(16)")
        return real_apply(self, stream, epoch, last, new_last, entries, known, rules, safe)

    monkeypatch.setattr(store_cls, "apply", picky)
    p = make_projector()
    p.run()
    assert calls == [(3, False), (3, True), (1, True), (1, True), (1, True)]
    assert counts() == expected([evs[0], evs[2]])
    [dead] = dead_letters(fake_redis, names)
    assert b"database refused it" in dead["reason"] and codec.decode(dead[EVENT_FIELD]) == evs[1]
    assert pending(fake_redis, names) == 0


def test_a_batch_the_safe_retry_accepts(make_projector, fake_redis, names, monkeypatch):
    xadd(fake_redis, names, [event(1), event(2)])
    store_cls = type(make_projector().store)
    real_apply = store_cls.apply

    def once(self, *args, safe=False):
        if not safe:
            raise IntegrityError("duplicate key value violates unique constraint errlog_event_id")
        return real_apply(self, *args, safe=safe)

    monkeypatch.setattr(store_cls, "apply", once)
    make_projector().run()
    assert counts() == {fingerprint(1): 1, fingerprint(2): 1}


def test_a_deleted_stream_is_taken_again(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_PREFETCH=False)
    p = make_projector()
    p.manage_leases()
    fake_redis.delete(names.errors())
    xadd(fake_redis, names, [event(1)])  # a new stream without the group
    p.run()
    assert counts() == {fingerprint(1): 1}


@pytest.mark.django_db(transaction=True)  # the loop's thread has its own connection
def test_stop_from_another_thread_ends_run(make_projector, fake_redis, names):
    p = make_projector(until_idle=False)
    thread = threading.Thread(target=p.run)
    thread.start()
    wait_for(lambda: p.held)
    xadd(fake_redis, names, [event(1)])
    wait_for(lambda: p.stats.events == 1)
    p.stop()
    thread.join(20)
    assert not thread.is_alive() and not fake_redis.exists(names.lease(0))


def test_first_signal_stops_gracefully_second_exits_now(make_projector, monkeypatch):
    p = make_projector()
    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)  # process.py calls os._exit
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        install_signal_handlers(p)
        signal.raise_signal(signal.SIGTERM)
        assert p.stopping and exits == []
        signal.raise_signal(signal.SIGINT)
        assert exits == [128 + signal.SIGINT]
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def test_the_heartbeat_reports_shards_lag_and_pending(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_PREFETCH=False)
    p = make_projector()
    p.manage_leases()
    xadd(fake_redis, names, [event(1), event(2)])
    p.heartbeat()
    beat = fake_redis.hgetall(names.heartbeat("projector", "test-consumer"))
    assert beat[b"state"] == b"active" and beat[b"shards"] == b"0"
    assert beat[b"lag"] == b"2" and beat[b"pending"] == b"0" and beat[b"lag:0"] == b"2"
    assert 0 < fake_redis.pttl(names.heartbeat("projector", "test-consumer")) <= 1500
    p.shutdown()


def test_a_standby_with_until_idle_exits_once_the_holder_drained(make_projector, fake_redis, names):
    xadd(fake_redis, names, [event(1)])
    holder, standby = make_projector(consumer="holder"), make_projector(consumer="standby")
    holder.manage_leases()
    assert not standby.drained()  # the holder has not read anything yet
    holder.run()  # releases the lease when done
    assert not standby.drained()  # nobody holds the shard: it should take it first
    holder.manage_leases()
    assert standby.drained()
    holder.shutdown()


def test_backoff_grows_to_its_cap_and_resets():
    backoff = Backoff(cap_s=1.0, base_s=0.1)
    delays = [backoff.next() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1 and all(0.5 <= d <= 1.0 for d in delays[5:])
    backoff.reset()
    assert backoff.next() <= 0.1
