"""Fast regression tests for bugs the end-to-end fault tests (test_faults_pipeline.py) found, one per fix."""

from __future__ import annotations

import threading

import fakeredis
import pytest

from bugbot.consumer import ConsumerConfig, StreamConsumer
from contracts import codec, ids
from contracts.events import BugFiled
from tests.webui_support.fixtures import bugbot_env, webui_env  # noqa: F401

STREAM, GROUP = "t:signals", "bugbot"


def _bug_filed(n: int) -> BugFiled:
    return BugFiled(id=ids.new_id(), ts=1, fingerprint=f"{n:064x}", bug_id=f"B-{n:03d}", issue_url="/x",
                    backend="local")


def _run_until_idle(consumer: StreamConsumer, timeout_s: float = 30) -> None:
    thread = threading.Thread(target=consumer.run, kwargs={"until_idle": True}, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        consumer.stop()
        thread.join(timeout_s)
        pytest.fail(f"the consumer never became idle (last error: {consumer.stats.last_error})")


def test_bugbot_consumer_recreates_its_group_after_redis_lost_it():
    r = fakeredis.FakeRedis()
    config = ConsumerConfig(stream=STREAM, group=GROUP, consumer="c1", dead_stream="t:dead", heartbeat_key="t:hb",
                            role="test", block_ms=10, backoff_base_s=0.0, backoff_max_s=0.0)
    seen: list[str] = []
    consumer = StreamConsumer(r, config, lambda ms: seen.extend(m.event.bug_id for m in ms))
    r.xadd(STREAM, {"e": codec.encode(_bug_filed(1))})
    _run_until_idle(consumer)
    r.flushall()  # a Redis restart without persistence: the stream and its consumer group are gone
    r.xadd(STREAM, {"e": codec.encode(_bug_filed(2))})
    _run_until_idle(consumer)
    assert seen == ["B-001", "B-002"]
    assert r.xpending(STREAM, GROUP)["pending"] == 0


@pytest.mark.django_db
def test_health_panel_reports_the_database_down_instead_of_failing(webui_env, monkeypatch):
    from django.db import OperationalError
    from django.template.loader import render_to_string

    from webui import health

    def refused():
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(health.services, "filing_counts", refused)
    panel = health.read()
    assert panel.ok is False and panel.database_fault.startswith("Database unreachable: OperationalError")
    assert panel.as_dict()["database_fault"] == panel.database_fault and panel.as_dict()["fault"] is None
    assert [s.label for s in panel.streams] == ["errors", "signals"], "the Redis figures are still read"
    assert panel.filings == {}
    assert "Database unreachable" in render_to_string("webui/includes/health.html", {"health": panel})


@pytest.mark.django_db(transaction=True)
def test_projector_outage_retries_do_not_push_entries_to_the_dead_letters(settings, fake_redis, monkeypatch):
    from django.db import OperationalError

    from projector import conf
    from projector.loop import Projector
    from projector.store import Store, for_alias
    from tests.projector_support.factories import BASE_MS, counts, event, expected, xadd

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "PROJECTOR_BLOCK_MS": 20, "PROJECTOR_BACKOFF_MAX_S": 0.01,
                           "PROJECTOR_CLAIM_INTERVAL_S": 0.0, "PROJECTOR_MAX_DELIVERIES": 5}
    names = conf.names()
    evs = [event(1, ts=BASE_MS + i) for i in range(5)]
    xadd(fake_redis, names, evs)
    failures = [OperationalError("the database is down")] * 12  # more retries than the delivery limit
    real_apply = Store.apply

    def down_for_a_while(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return real_apply(self, *args, **kwargs)

    monkeypatch.setattr(Store, "apply", down_for_a_while)
    projector = Projector(fake_redis, for_alias("default"), conf.get(), names, consumer="c", until_idle=True)
    projector.run()
    assert not failures
    assert fake_redis.xlen(names.dead(0)) == 0, "healthy entries were dead-lettered during the outage"
    assert counts() == expected(evs)


@pytest.mark.django_db(transaction=True)
def test_projector_claim_sweeps_during_an_outage_leave_its_own_entries_alone(settings, fake_redis, monkeypatch):
    import time

    from django.db import OperationalError

    from projector import conf
    from projector.loop import Projector
    from projector.store import Store, for_alias
    from tests.projector_support.factories import BASE_MS, counts, event, expected, xadd

    # Sweeps on every step claim entries idle for 300 ms: the database stays down for 3 s (the fault itself).
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "PROJECTOR_BLOCK_MS": 20, "PROJECTOR_BACKOFF_MAX_S": 0.1,
                           "PROJECTOR_CLAIM_INTERVAL_S": 0.0, "PROJECTOR_CLAIM_IDLE_MS": 300,
                           "PROJECTOR_MAX_DELIVERIES": 5}
    names = conf.names()
    evs = [event(1, ts=BASE_MS + i) for i in range(5)]
    xadd(fake_redis, names, evs)
    real_apply, down_until = Store.apply, time.monotonic() + 3.0

    def down_for_a_while(self, *args, **kwargs):
        if time.monotonic() < down_until:
            raise OperationalError("the database is down")
        return real_apply(self, *args, **kwargs)

    monkeypatch.setattr(Store, "apply", down_for_a_while)
    Projector(fake_redis, for_alias("default"), conf.get(), names, consumer="c", until_idle=True).run()
    assert fake_redis.xlen(names.dead(0)) == 0, "healthy entries were dead-lettered during the outage"
    assert counts() == expected(evs)


class _FullDisk:
    """open() for capture.spool whose files take `room` more bytes, then write part of a record and fail (ENOSPC)."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path, mode="r", *args, **kwargs):
        if "a" not in mode:
            return open(path, mode, *args, **kwargs)
        disk = self
        real = open(path, mode, *args, buffering=0, **kwargs)

        class File:
            def write(self, data):
                if len(data) > disk.room:
                    real.write(data[: disk.room])  # what fitted stays on disk: a partial record
                    disk.room = 0
                    raise OSError(28, "No space left on device")
                disk.room -= len(data)
                return real.write(data)

            def __getattr__(self, name):
                return getattr(real, name)

        return File()


def test_spool_keeps_what_it_held_when_the_disk_fills_mid_record(tmp_path, monkeypatch):
    from capture import spool as spool_module
    from capture.spool import Spool
    from contracts.names import Names

    disk = _FullDisk(room=10**6)
    monkeypatch.setattr(spool_module, "open", disk, raising=False)
    spool = Spool(str(tmp_path / "spool"), 10**6)
    for i in range(3):
        assert spool.write(STREAM, b"event-%d" % i) is None
    disk.room = 5  # the next record gets cut off after 5 bytes
    assert spool.write(STREAM, b"event-3 (dropped)") == "spool_error"
    assert spool.write(STREAM, b"event-4 (dropped)") == "spool_error"
    disk.room = 10**6  # space again (Redis came back and another process flushed its files)
    assert spool.write(STREAM, b"event-5") is None
    r = fakeredis.FakeRedis()
    assert spool.flush(r, Names().spool_done, 1000) == 4
    assert sorted(f[b"e"] for _, f in r.xrange(STREAM)) == [b"event-0", b"event-1", b"event-2", b"event-5"]
    assert not spool.has_files()


def test_spool_write_failures_are_dropped_and_counted_never_raised(tmp_path, monkeypatch, caplog):
    import os

    from capture.spool import Spool

    blocked = tmp_path / "spool"
    blocked.write_text("a file where the spool directory should be")
    assert Spool(str(blocked), 10**6).write(STREAM, b"event") == "spool_error"

    disk = _FullDisk(room=10**6)
    monkeypatch.setattr("capture.spool.open", disk, raising=False)
    spool = Spool(str(tmp_path / "other"), 10**6)
    assert spool.write(STREAM, b"event-0") is None
    disk.room = 3

    def refused(*args):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "truncate", refused)
    assert spool.write(STREAM, b"event-1") == "spool_error"
    assert "could not keep" in caplog.text
