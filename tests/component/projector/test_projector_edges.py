"""The loop's rarer paths: failures while leasing, reading ahead, claiming, shutting down; odd replies."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import redis
from django.db import OperationalError

from contracts.names import GROUP_PROJECTOR
from projector import announce as announce_module, loop as loop_module, stream
from projector.lease import Lease
from projector.models import ErrorGroup
from projector.prefetch import Batch, Prefetcher
from tests.projector_support.factories import counts, event, expected, fingerprint, xadd

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def test_a_lease_lost_between_renewals_drops_the_shard(make_projector, fake_redis, names):
    p = make_projector()
    p.manage_leases()
    Lease(fake_redis, names.lease(0), "thief", 10).acquire(force=True)
    p.manage_leases()
    assert not p.held and p.leases[0].renew() is False


def test_a_database_failure_while_taking_a_shard_gives_the_lease_back(make_projector, fake_redis, names,
                                                                     monkeypatch):
    p = make_projector()
    monkeypatch.setattr(type(p.store), "take", lambda *a: (_ for _ in ()).throw(OperationalError("down")))
    with pytest.raises(OperationalError):
        p.manage_leases()
    assert not p.held and not fake_redis.exists(names.lease(0))


def test_a_read_ahead_error_backs_off_and_rereads(make_projector, fake_redis, names, monkeypatch):
    evs = [event(i) for i in range(5)]
    xadd(fake_redis, names, evs)
    real = stream.Reader.read_new
    calls = []

    def flaky(self, *args):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise redis.ConnectionError("reset by peer")
        return real(self, *args)

    monkeypatch.setattr(stream.Reader, "read_new", flaky)
    make_projector().run()
    assert counts() == expected(evs) and calls[0].startswith("prefetch")


def test_what_an_old_holder_read_after_losing_its_lease_is_claimed_back(make_projector, fake_redis, names):
    stream_key = names.errors()
    first, zombie_read, later = [event(1)], [event(2), event(3)], [event(4)]
    xadd(fake_redis, names, first)
    new = make_projector(consumer="new")
    new.manage_leases()
    xadd(fake_redis, names, zombie_read)
    fake_redis.xreadgroup(GROUP_PROJECTOR, "old", {stream_key: ">"})  # past the new holder's tail
    xadd(fake_redis, names, later)
    new.run()
    assert counts() == expected(first + zombie_read + later)
    assert fake_redis.xpending(stream_key, GROUP_PROJECTOR)["pending"] == 0


def test_the_reader_claims_gaps_and_moves_past_what_others_applied(fake_redis):
    fake_redis.xgroup_create("s", "g", id="0", mkstream=True)
    ids = [fake_redis.xadd("s", {"e": str(i).encode()}).decode() for i in range(4)]
    reader = stream.Reader(fake_redis, "s", "g", "me", "dead")
    fake_redis.xreadgroup("g", "other", {"s": ">"}, count=2)
    entries, tail, caught_up = reader.read_new("0-0", 10)
    assert [e for e, _ in entries] == ids and tail == ids[-1] and not caught_up
    assert reader.read_new(tail, 10) == ([], ids[-1], True)
    more = [fake_redis.xadd("s", {"e": b"x"}).decode() for _ in range(2)]
    fake_redis.xreadgroup("g", "other", {"s": ">"})
    fake_redis.xack("s", "g", *more)  # the other one applied and acked them: nothing to claim
    assert reader.read_new(tail, 10) == ([], more[-1], True)
    fake_redis.xadd("s", {"e": b"y"})
    fake_redis.xreadgroup("g", "other", {"s": ">"})
    entries, tail, caught_up = reader.read_new(more[-1], 10)
    assert len(entries) == 1 and not caught_up


def test_the_read_ahead_stops_while_waiting_to_hand_over():
    class Reader:
        client = None
        stream = "s"

        def read_new(self, tail, count):
            return [("1-0", {b"e": b"x"})], "1-0", False

    ready = threading.Event()
    prefetcher = Prefetcher(Reader(), "0-0", 10, 10, lambda fields: fields, ready)
    prefetcher.start()
    ready.wait(10)
    prefetcher.stop()  # it was blocked handing over a second batch
    assert not prefetcher.thread.is_alive() and prefetcher.get() is None


def test_entries_deleted_while_pending_are_reported_and_dead_lettered(make_projector, fake_redis, names):
    stream_key = names.errors()
    fake_redis.xgroup_create(stream_key, GROUP_PROJECTOR, id="0", mkstream=True)
    ids = xadd(fake_redis, names, [event(1), event(2), event(3)])
    fake_redis.xreadgroup(GROUP_PROJECTOR, "test-consumer", {stream_key: ">"})
    fake_redis.xdel(stream_key, ids[1])
    make_projector().run()
    assert counts() == {fingerprint(1): 1, fingerprint(3): 1}
    assert fake_redis.xpending(stream_key, GROUP_PROJECTOR)["pending"] == 0


def test_claims_page_through_many_pending_entries(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_BATCH_COUNT=4)
    stream_key = names.errors()
    fake_redis.xgroup_create(stream_key, GROUP_PROJECTOR, id="0", mkstream=True)
    evs = [event(i) for i in range(10)]
    xadd(fake_redis, names, evs)
    fake_redis.xreadgroup(GROUP_PROJECTOR, "gone", {stream_key: ">"})
    make_projector().run()
    assert counts() == expected(evs)


def test_shutdown_survives_redis_being_down(make_projector, fake_redis, names, monkeypatch):
    p = make_projector()
    p.manage_leases()
    down = redis.ConnectionError("down")
    monkeypatch.setattr(Lease, "release", lambda self: (_ for _ in ()).throw(down))
    monkeypatch.setattr(fake_redis, "delete", lambda *keys: (_ for _ in ()).throw(down))
    p.shutdown()
    assert not p.held


@pytest.mark.django_db(transaction=True)
def test_an_unusable_database_connection_is_closed_and_reopened(make_projector, fake_redis, names, monkeypatch):
    from django.db import connection

    xadd(fake_redis, names, [event(1)])
    p = make_projector()
    connection.ensure_connection()
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    p._recover()
    assert connection.connection is None
    p.run()
    assert counts() == {fingerprint(1): 1}


def test_other_redis_errors_are_not_swallowed(make_projector, monkeypatch):
    p = make_projector()
    monkeypatch.setattr(loop_module.Projector, "manage_leases",
                        lambda self: (_ for _ in ()).throw(redis.ResponseError("WRONGTYPE Operation")))
    with pytest.raises(redis.ResponseError):
        p.run()


def test_stopping_between_shards(make_projector, projector_settings, fake_redis, monkeypatch):
    projector_settings(SHARDS=2, PROJECTOR_PREFETCH=False)
    p = make_projector(until_idle=False)
    seen = []

    def step(self, shard):
        seen.append(shard.index)
        self.stop()
        return True

    monkeypatch.setattr(loop_module.Projector, "step", step)
    assert p.run() == 0 and seen == [0]


def test_waiting_without_read_ahead_blocks_on_the_streams(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_PREFETCH=False, PROJECTOR_BLOCK_MS=10)
    p = make_projector()
    p.manage_leases()
    xadd(fake_redis, names, [event(1)])
    p.wait(lease_due=time.monotonic() + 60)  # returns at once: an entry is there
    p.wait(lease_due=0.0)
    p.held.clear()
    p.wait(lease_due=0.0)  # a standby just yields


def test_the_crash_switch_kills_at_the_chosen_batch(make_projector, monkeypatch):
    monkeypatch.setenv(loop_module.CRASH_ENV, "commit:2")
    kills = []
    monkeypatch.setattr(loop_module.os, "kill", lambda pid, sig: kills.append(sig))
    p = make_projector()
    p.crash_point("read")
    p.crash_point("commit")
    assert kills == []
    p.crash_point("commit")
    assert kills == [signal.SIGKILL]


def test_invalid_known_map_entries_are_skipped(make_projector, fake_redis, names, caplog):
    fake_redis.hset(names.known, "fp:nonsense", "{")
    fake_redis.incr(names.known_version)
    p = make_projector()
    p.reload_known()
    assert p.known.invalid == 1 and "1 invalid entries" in caplog.text


def test_a_signal_that_cannot_be_built_is_logged_and_skipped(make_projector, fake_redis, names, caplog):
    xadd(fake_redis, names, [event(1)] * 3)
    p = make_projector()
    p.run()
    group = ErrorGroup.objects.get()
    ErrorGroup.objects.update(status=0, signal_pending=True)
    assert announce_module.announce(fake_redis, names, p.store, [group.id], 3, 1000) == 0
    assert "cannot build the signal" in caplog.text


def test_stream_reply_shapes():
    assert stream.parse_entries([[b"1-0", [b"e", b"x", b"f", b"y"]], (b"2-0", None)]) == [
        ("1-0", {b"e": b"x", b"f": b"y"}), ("2-0", {})]
    assert stream._stream_reply(None) == [] and stream._stream_reply([]) == []
    assert stream._stream_reply([[b"s", [[b"1-0", [b"e", b"x"]]]]]) == [("1-0", {b"e": b"x"})]
    assert stream._stream_reply([b"s", [[b"1-0", [b"e", b"x"]]]]) == [("1-0", {b"e": b"x"})]


def test_group_info_when_redis_cannot_tell_the_lag():
    class Client:
        newest = [(b"5-0", {})]

        def xinfo_groups(self, key):
            if key == "missing":
                raise redis.ResponseError("no such key")
            return [{"name": b"other"}, {"name": b"projector", "pending": 2, "lag": None, "last-delivered-id": b"3-0"}]

        def xrevrange(self, key, count):
            return self.newest

    client = Client()
    assert stream.group_info(client, "missing", "projector") == {}
    assert stream.group_info(client, "s", "nope") == {}
    assert stream.group_info(client, "s", "projector") == {"pending": 2, "lag": 1, "last_delivered": "3-0"}
    client.newest = [(b"3-0", {})]
    assert stream.group_info(client, "s", "projector")["lag"] == 0


def test_ensure_group_reraises_other_errors():
    class Client:
        def xgroup_create(self, *a, **k):
            raise redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    with pytest.raises(redis.ResponseError):
        stream.ensure_group(Client(), "s", "g")


def test_lease_holder_and_release(fake_redis):
    lease = Lease(fake_redis, "k", "me", 10)
    assert lease.holder() is None and not lease.held and lease.renew() is False
    assert lease.acquire() and lease.held and lease.holder() == "me"
    lease.release()
    assert lease.holder() is None and not lease.held
    lease.release()  # nothing to give up


def test_batches_default_to_empty():
    batch = Batch()
    assert batch.entries == [] and batch.tail == "" and not batch.idle and batch.error is None


def test_the_known_map_is_reloaded_when_its_version_moves(make_projector, fake_redis, names):
    from contracts import known as known_map
    from contracts.known import KnownEntry

    p = make_projector()
    p.manage_leases()
    assert len(p.known) == 0
    version = known_map.put(fake_redis, names, KnownEntry(bug_id="B-4", message="m", fingerprint=fingerprint(4)))
    p.check_known()
    assert p.known.version == version and fingerprint(4) in p.known.exact
    p.shutdown()
