"""Replay rebuilds the projections from the stream, equal to live consumption, and hands over cleanly."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from contracts.names import EVENT_FIELD, GROUP_PROJECTOR
from projector import conf, replay as replay_module, stream
from projector.lease import Lease
from projector.models import Checkpoint, ErrorGroup
from projector.replay import LeaseHeld, before, replay
from projector.store import Fenced, for_alias
from tests.projector_support.factories import BASE_MS, aggregates, counts, event, expected, xadd

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def traffic(n=120, start=0):
    classes = ["app_error", "csrf", "not_found", "probe"]
    return [event(i % 7, cls=classes[i % 7 % 4], ts=BASE_MS + (start + i) * 7_000, user_id=str(i % 5),
                   weight=1 + i % 3) for i in range(n)]


def do_replay(fake_redis, **kwargs):
    return replay(fake_redis, for_alias("default"), conf.names(), conf.get(), **kwargs)


def test_replay_gives_the_same_aggregates_as_live_consumption(make_projector, projector_settings, fake_redis,
                                                              names):
    projector_settings(PROJECTOR_BATCH_COUNT=13)
    evs = traffic()
    xadd(fake_redis, names, evs)
    make_projector().run()
    live = aggregates()
    result = do_replay(fake_redis, batch=17)
    assert aggregates() == live
    assert (result.events, result.entries, result.invalid) == (120, 120, 0)
    again = do_replay(fake_redis, batch=50)  # idempotent
    assert aggregates() == live and again.positions == result.positions


def test_people_decisions_survive_a_replay(make_projector, fake_redis, names):
    xadd(fake_redis, names, traffic(30))
    make_projector().run()
    ErrorGroup.objects.filter(cls="not_found").update(state="ignored")
    ErrorGroup.objects.filter(cls="csrf").update(state="resolved")
    signalled = dict(ErrorGroup.objects.exclude(signalled_at=None).values_list("fingerprint", "signalled_at"))
    do_replay(fake_redis)
    states = dict(ErrorGroup.objects.values_list("cls", "state"))
    assert states["not_found"] == "ignored" and states["csrf"] == "resolved" and states["app_error"] == "unresolved"
    assert signalled and dict(ErrorGroup.objects.exclude(signalled_at=None).values_list(
        "fingerprint", "signalled_at")) == signalled
    assert not ErrorGroup.objects.filter(signal_pending=True).exists()


def test_the_live_consumer_continues_after_a_replay_without_gaps_or_double_counts(make_projector, fake_redis, names):
    first = traffic(40)
    xadd(fake_redis, names, first)
    make_projector().run()
    result = do_replay(fake_redis)
    last = result.positions[names.errors()]
    info = fake_redis.xinfo_groups(names.errors())[0]
    assert info["last-delivered-id"].decode() == last
    assert Checkpoint.objects.get(stream=names.errors()).last_id == last
    later = traffic(20, start=40)
    xadd(fake_redis, names, later)
    make_projector().run()
    assert counts() == expected(first + later)


def test_replay_from_an_id_ignores_what_came_before(make_projector, fake_redis, names):
    evs = traffic(30)
    ids = xadd(fake_redis, names, evs)
    result = do_replay(fake_redis, start=ids[10])
    assert counts() == expected(evs[10:]) and result.events == 20
    make_projector().run()  # the group was moved: entries before the id stay out
    assert counts() == expected(evs[10:])


def test_replay_from_an_id_past_the_end(fake_redis, names):
    ids = xadd(fake_redis, names, traffic(3))
    ms = int(ids[-1].split("-")[0]) + 10
    result = do_replay(fake_redis, start=f"{ms}-0")
    assert result.events == 0 and result.positions[names.errors()] == f"{ms - 1}-9223372036854775807"


def test_invalid_entries_are_counted_not_applied(fake_redis, names):
    xadd(fake_redis, names, [event(1)])
    fake_redis.xadd(names.errors(), {EVENT_FIELD: b"junk"})
    result = do_replay(fake_redis)
    assert (result.entries, result.events, result.invalid) == (2, 1, 1)


def test_replay_refuses_while_a_projector_holds_the_lease(make_projector, projector_settings, fake_redis, names):
    projector_settings(PROJECTOR_PREFETCH=False)
    xadd(fake_redis, names, [event(1)])
    live = make_projector(consumer="live")
    live.manage_leases()
    with pytest.raises(LeaseHeld, match="shard 0 is held by live"):
        do_replay(fake_redis)
    assert not ErrorGroup.objects.exists()
    do_replay(fake_redis, take_lease=True)
    shard = live.held[0]
    with pytest.raises(Fenced):
        live.store.apply(shard.stream, shard.epoch, shard.last, (10**13, 0), [("1-0", event(2))], live.known, live.rules)
    assert counts() == {event(1).fingerprint: 1} and not fake_redis.exists(names.lease(0))


def test_losing_the_lease_midway_rolls_everything_back(make_projector, fake_redis, names, monkeypatch):
    xadd(fake_redis, names, [event(1)])
    make_projector().run()
    before_replay = aggregates()
    xadd(fake_redis, names, [event(2)])
    monkeypatch.setattr(Lease, "renew", lambda self: False)
    with pytest.raises(LeaseHeld):
        do_replay(fake_redis, batch=1)
    assert aggregates() == before_replay


def test_before():
    assert before("-") == "0-0" and before("0") == "0-0" and before("0-0") == "0-0"
    assert before("5-3") == "5-2" and before("5-0") == "4-9223372036854775807" and before("5") == "4-9223372036854775807"


@pytest.fixture
def command_redis(fake_redis, monkeypatch):
    monkeypatch.setattr(stream, "connect", lambda *a, **k: fake_redis)
    monkeypatch.setattr(replay_module, "ensure_group", stream.ensure_group)
    monkeypatch.setattr("projector.management.commands.replay_errors.tune_process", lambda: None)
    return fake_redis


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_command_reports_and_draws_a_progress_bar_on_a_terminal(projector_settings, command_redis, names):
    xadd(command_redis, names, traffic(10))
    out = Terminal()
    call_command("replay_errors", "--batch", "4", stdout=out)
    text = out.getvalue()
    assert "\r[" in text and "10/10" in text and "replayed 10 entries (10 events, 0 invalid)" in text
    plain = io.StringIO()
    call_command("replay_errors", stdout=plain)
    assert "\r" not in plain.getvalue() and f"{names.errors()} " in plain.getvalue()
    assert fake_group(command_redis, names)


def fake_group(client, names):
    return [g["name"] for g in client.xinfo_groups(names.errors())] == [GROUP_PROJECTOR.encode()]


def test_the_command_refuses_while_held_and_checks_its_arguments(projector_settings, command_redis, names):
    Lease(command_redis, names.lease(0), "live-one", 10).acquire()
    with pytest.raises(CommandError, match="held by live-one.*--take-lease"):
        call_command("replay_errors", stdout=io.StringIO())
    call_command("replay_errors", "--take-lease", stdout=io.StringIO())
    with pytest.raises(CommandError, match="stream id"):
        call_command("replay_errors", "--from", "yesterday")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("replay_errors", "--batch", "0")
