"""Exactly once with real processes: kill -9 between read and commit and between commit and ack, races, takeover."""

from __future__ import annotations

import os
import signal

import pytest

from contracts.names import EVENT_FIELD, GROUP_PROJECTOR
from projector.models import Checkpoint, ErrorHourly, ErrorLog
from tests.integration.projector.conftest import wait_for
from tests.projector_support.factories import BASE_MS, counts, event, expected, xadd

pytestmark = [pytest.mark.integration, pytest.mark.backends, pytest.mark.django_db(transaction=True)]


def traffic(n, start=0):
    return [event(i % 9, cls=("app_error", "csrf", "not_found")[i % 3], ts=BASE_MS + (start + i) * 1000,
                  user_id=str(i % 4), weight=1 + i % 2) for i in range(n)]


def applied(live):
    return sum(Checkpoint.objects.values_list("applied", flat=True))


def assert_exact(live, evs):
    assert counts() == expected(evs)
    assert sum(ErrorHourly.objects.values_list("count", flat=True)) == sum(e.weight for e in evs)
    assert ErrorLog.objects.count() == len({e.id for e in evs})  # 1 event per second: every one is a sample
    assert live.redis.xpending(live.names.errors(), GROUP_PROJECTOR)["pending"] == 0


@pytest.mark.parametrize("point", ["read", "commit"])
def test_kill_9_at_a_batch_boundary_then_restart_counts_every_event_once(live, point):
    evs = traffic(200)
    xadd(live.redis, live.names, evs)
    code, output = live.finish(live.spawn("worker", crash=f"{point}:3"))
    assert code == -signal.SIGKILL, output
    assert applied(live) == (50 if point == "read" else 75)  # batches of 25: two or three committed
    code, output = live.finish(live.spawn("worker"))
    assert code == 0, output
    assert_exact(live, evs)
    assert applied(live) == 200
    assert f"{200 - applied_before(point)} events applied" in output


def applied_before(point):
    return 50 if point == "read" else 75


def test_kill_9_mid_stream_while_events_arrive(live):
    first, second = traffic(150), traffic(150, start=150)
    xadd(live.redis, live.names, first)
    proc = live.spawn("worker", until_idle=False)
    wait_for(lambda: applied(live) >= 50, what="first batches applied")
    xadd(live.redis, live.names, second)
    os.kill(proc.pid, signal.SIGKILL)
    assert live.finish(proc)[0] == -signal.SIGKILL
    code, output = live.finish(live.spawn("worker"))
    assert code == 0, output
    assert_exact(live, first + second)


def test_two_projectors_racing_for_one_shard_apply_each_entry_once(live):
    evs = traffic(300)
    xadd(live.redis, live.names, evs)
    a, b = live.spawn("racer-a"), live.spawn("racer-b")
    (code_a, out_a), (code_b, out_b) = live.finish(a), live.finish(b)
    assert code_a == code_b == 0, out_a + out_b
    assert_exact(live, evs)
    said = [int(out.rsplit(": ", 1)[1].split(" events")[0]) for out in (out_a, out_b)]
    assert sum(said) == 300 and applied(live) == 300


def test_a_hot_standby_takes_over_when_the_active_one_is_killed(live):
    first, second = traffic(100), traffic(100, start=100)
    xadd(live.redis, live.names, first)
    active = live.spawn("active", until_idle=False)
    wait_for(lambda: applied(live) == 100, what="first events applied")
    standby = live.spawn("standby", until_idle=False)
    beat = live.names.heartbeat("projector", "standby")
    wait_for(lambda: live.redis.hget(beat, "state") == b"standby", what="standby heartbeat")
    os.kill(active.pid, signal.SIGKILL)
    xadd(live.redis, live.names, second)
    wait_for(lambda: applied(live) == 200, what="the standby to take over and apply")
    assert Checkpoint.objects.get().owner == "standby"
    standby.send_signal(signal.SIGTERM)
    code, output = live.finish(standby)
    assert code == 0, output
    assert_exact(live, first + second)
    assert not live.redis.exists(live.names.lease(0)) and not live.redis.exists(beat)


def test_sigterm_finishes_the_batch_and_exits_zero(live):
    proc = live.spawn("graceful", until_idle=False)
    beat = live.names.heartbeat("projector", "graceful")
    wait_for(lambda: live.redis.hget(beat, "state") == b"active", what="active heartbeat")
    evs = traffic(60)
    xadd(live.redis, live.names, evs)
    wait_for(lambda: applied(live) == 60, what="events applied")
    proc.send_signal(signal.SIGTERM)
    code, output = live.finish(proc, timeout=60)
    assert code == 0, output
    assert "60 events applied" in output
    assert not live.redis.exists(live.names.lease(0))
    assert_exact(live, evs)


def test_a_dead_consumers_pending_entries_are_claimed(live):
    evs = traffic(80)
    stream = live.names.errors()
    live.redis.xgroup_create(stream, GROUP_PROJECTOR, id="0", mkstream=True)
    xadd(live.redis, live.names, evs)
    live.redis.xreadgroup(GROUP_PROJECTOR, "crashed", {stream: ">"}, count=50)
    code, output = live.finish(live.spawn("rescuer"))
    assert code == 0, output
    assert_exact(live, evs)


def test_poison_entries_are_dead_lettered(live):
    evs = traffic(10)
    xadd(live.redis, live.names, evs[:5])
    live.redis.xadd(live.names.errors(), {EVENT_FIELD: b"\x00garbage"})
    xadd(live.redis, live.names, evs[5:])
    code, output = live.finish(live.spawn("worker"))
    assert code == 0 and "1 dead-lettered" in output, output
    [(_, dead)] = live.redis.xrange(live.names.dead())
    assert dead[b"e"] == b"\x00garbage" and dead[b"reason"].startswith(b"not msgpack")
    assert_exact(live, evs)
