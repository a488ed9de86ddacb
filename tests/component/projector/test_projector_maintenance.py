"""Scan steps: re-signal missed groups, prune by retention, trim streams only below every consumer."""

from __future__ import annotations

import functools
import time
from datetime import datetime, timedelta, timezone

import pytest

from contracts import codec
from contracts import known as known_map
from contracts.known import KnownEntry
from contracts.names import GROUP_PROJECTOR
from projector import maintenance
from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog
from projector.store import for_alias, to_datetime
from tests.projector_support.factories import BASE_MS, event, fingerprint, xadd

pytestmark = [pytest.mark.django_db, pytest.mark.backends]
HOUR = 3_600_000


def signals(client, names):
    return [codec.decode(f[b"e"]) for _, f in client.xrange(names.signals)]


@pytest.fixture
def crossed(make_projector, fake_redis, names):
    """Groups over the threshold whose signals went out; returns the projector."""
    xadd(fake_redis, names, [event(n, cls=cls) for n, cls in enumerate(["app_error", "csrf", "probe"]) for _ in range(3)])
    p = make_projector()
    p.run()
    fake_redis.delete(names.signals)
    return p


def resignal(fake_redis, now_ms=None):
    return maintenance.resignal_missed(client=fake_redis, store=for_alias("default"), now_ms=now_ms)


def test_a_committed_but_unsent_signal_is_published(crossed, fake_redis, names):
    ErrorGroup.objects.filter(fingerprint=fingerprint(0)).update(signal_pending=True)
    figures = resignal(fake_redis)
    assert figures == {"signals_pending": 1, "signals_due": 0, "signals_sent": 1}
    [sent] = signals(fake_redis, names)
    assert sent.fingerprint == fingerprint(0) and sent.id == ErrorGroup.objects.get(fingerprint=fingerprint(0)).signal_id
    assert not ErrorGroup.objects.filter(signal_pending=True).exists()


def test_a_group_that_crossed_while_ignored_is_signalled_once_unignored(make_projector, fake_redis, names):
    xadd(fake_redis, names, [event(1)] * 3)
    p = make_projector()
    p.manage_leases()
    ErrorGroup.objects.create(fingerprint=fingerprint(1), basis="b", title="t", cls="app_error", error_type="500",
                              status=500, first_seen=to_datetime(BASE_MS), last_seen=to_datetime(BASE_MS),
                              state="ignored")
    p.run()
    assert signals(fake_redis, names) == []
    ErrorGroup.objects.update(state="unresolved")
    now = int(time.time() * 1000)
    assert resignal(fake_redis, now)["signals_sent"] == 1
    [sent] = signals(fake_redis, names)
    assert sent.ts == now and sent.count == 3 and not sent.regression
    assert resignal(fake_redis, now)["signals_sent"] == 0  # sent now: not again until RESIGNAL_AFTER_S


def test_stale_signals_are_repeated_for_groups_nobody_filed(crossed, projector_settings, fake_redis, names):
    projector_settings(RESIGNAL_AFTER_S=60)
    ErrorGroup.objects.update(signalled_at=datetime.now(timezone.utc) - timedelta(hours=2))
    figures = resignal(fake_redis)
    assert figures["signals_due"] == 2 and {s.fingerprint for s in signals(fake_redis, names)} == {
        fingerprint(0), fingerprint(1)}
    ids = {s.id for s in signals(fake_redis, names)}
    assert ids == set(ErrorGroup.objects.filter(cls__in=["app_error", "csrf"]).values_list("signal_id", flat=True))
    assert resignal(fake_redis)["signals_due"] == 0


def test_only_never_sent_signals_when_repeats_are_off(crossed, projector_settings, fake_redis):
    projector_settings(RESIGNAL_AFTER_S=0)
    ErrorGroup.objects.update(signalled_at=datetime.now(timezone.utc) - timedelta(days=30))
    assert resignal(fake_redis)["signals_due"] == 0


def test_covered_ignored_and_resolved_groups_are_left_alone(crossed, projector_settings, fake_redis, names):
    projector_settings(RESIGNAL_AFTER_S=1)
    ErrorGroup.objects.update(signalled_at=datetime.now(timezone.utc) - timedelta(hours=1))
    known_map.publish(fake_redis, names, [KnownEntry(bug_id="B-1", message="m", fingerprint=fingerprint(0))])
    ErrorGroup.objects.filter(fingerprint=fingerprint(1)).update(state="resolved")
    assert resignal(fake_redis)["signals_due"] == 0


def test_resignal_is_capped(crossed, projector_settings, fake_redis):
    projector_settings(RESIGNAL_MAX=1, RESIGNAL_AFTER_S=1)
    ErrorGroup.objects.update(signalled_at=datetime.now(timezone.utc) - timedelta(hours=1), signal_pending=False)
    ErrorGroup.objects.filter(fingerprint=fingerprint(1)).update(signal_pending=True)
    assert resignal(fake_redis) == {"signals_pending": 1, "signals_due": 0, "signals_sent": 1}


def test_prune_keeps_what_is_within_retention(make_projector, projector_settings, fake_redis, names):
    projector_settings(SAMPLE_RETENTION_DAYS=2, HOURLY_RETENTION_DAYS=3, PRUNE_BATCH=100)
    day = 24 * HOUR
    xadd(fake_redis, names, [event(1, ts=BASE_MS + i * 60_000) for i in range(150)]
         + [event(1, ts=BASE_MS + 2 * day + HOUR), event(1, ts=BASE_MS + 3 * day + HOUR)])
    make_projector().run()
    # samples older than day 2 go (150); hours older than day 1 go (3 per group and per class)
    assert maintenance.prune(to_datetime(BASE_MS + 4 * day)) == {"samples_pruned": 150, "hours_pruned": 6}
    assert ErrorLog.objects.count() == ErrorHourly.objects.count() == ClassHourly.objects.count() == 2
    assert ErrorGroup.objects.get().count == 152
    assert maintenance.prune(to_datetime(BASE_MS + 5 * day + 2 * HOUR)) == {"samples_pruned": 2, "hours_pruned": 2}
    assert maintenance.prune() == {"samples_pruned": 0, "hours_pruned": 0}  # the events are from 2027


def test_trim_stops_at_pending_entries_and_keeps_the_retention(projector_settings, fake_redis, names):
    projector_settings(STREAM_RETENTION_DAYS=0)
    stream = names.errors()
    ids = xadd(fake_redis, names, [event(i) for i in range(10)])
    trim = functools.partial(maintenance.trim_streams, fake_redis, now_ms=int(time.time() * 1000) + 60_000)
    assert trim() == {"stream_entries_trimmed": 0}  # no consumer yet
    fake_redis.xgroup_create(stream, GROUP_PROJECTOR, id="0")
    fake_redis.xgroup_create(stream, "other", id=ids[7])
    fake_redis.xreadgroup(GROUP_PROJECTOR, "c", {stream: ">"}, count=6)
    fake_redis.xack(stream, GROUP_PROJECTOR, *ids[:3])
    assert trim()["stream_entries_trimmed"] == 3
    assert [i.decode() for i, _ in fake_redis.xrange(stream)] == ids[3:]
    fake_redis.xack(stream, GROUP_PROJECTOR, *ids[3:6])
    assert trim()["stream_entries_trimmed"] == 2  # down to the projector's position
    fake_redis.xreadgroup(GROUP_PROJECTOR, "c", {stream: ">"})
    fake_redis.xack(stream, GROUP_PROJECTOR, *ids)
    trim()
    assert [i.decode() for i, _ in fake_redis.xrange(stream)] == ids[7:]  # "other" has not read past 7


def test_trim_keeps_recent_entries_for_replay(projector_settings, fake_redis, names):
    projector_settings(STREAM_RETENTION_DAYS=1)
    stream = names.errors()
    old = fake_redis.xadd(stream, {"e": b"x"}, id=f"{BASE_MS}-0")
    recent = fake_redis.xadd(stream, {"e": b"x"}, id=f"{BASE_MS + 2 * 86_400_000}-0")
    fake_redis.xgroup_create(stream, GROUP_PROJECTOR, id="$")
    now = BASE_MS + 2 * 86_400_000 + 1000
    assert maintenance.trim_streams(fake_redis, now_ms=now) == {"stream_entries_trimmed": 1}
    assert [i for i, _ in fake_redis.xrange(stream)] == [recent] != [old]


def test_the_scan_step_list_names_real_functions():
    from importlib import import_module

    for path in maintenance.STEPS:
        module, name = path.rsplit(".", 1)
        assert callable(getattr(import_module(module), name))
