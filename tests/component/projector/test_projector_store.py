"""The store on both databases: counters, states, users, samples, fencing, signal bookkeeping."""

from __future__ import annotations

from datetime import timezone

import pytest

from contracts.known import KnownMap
from projector import conf, handlers
from projector.models import Checkpoint, ErrorGroup, ErrorHourly, ErrorLog, GroupUser
from projector.store import Fenced, for_alias, json_bytes, to_datetime
from tests.projector_support.factories import BASE_MS, event, fingerprint

pytestmark = [pytest.mark.django_db, pytest.mark.backends]
STREAM = "errortrail:errors"


@pytest.fixture
def store(projector_settings):
    return for_alias("default")


@pytest.fixture
def apply(store):
    """Apply events as consecutive batches of one shard, like the loop does."""
    epoch, _ = store.take(STREAM, "tests")
    position = [0]

    def run(events, rules=handlers.Rules(), known=KnownMap()):
        entries = []
        for ev in events:
            position[0] += 1
            entries.append((f"{position[0]}-0", ev))
        last = (position[0] - len(events), 0)
        return store.apply(STREAM, epoch, last, (position[0], 0), entries, known, rules)

    return run


def group(n=1):
    return ErrorGroup.objects.get(fingerprint=fingerprint(n))


def test_a_new_group_gets_what_its_first_event_says(apply):
    ev = event(1, ts=BASE_MS + 5, release="r2")
    apply([ev])
    g = group()
    assert (g.title, g.cls, g.error_type, g.status, g.method) == (handlers.title_for(ev), "app_error", "500", 500, "GET")
    assert (g.path, g.route, g.culprit, g.exc_type) == (ev.path, ev.route, ev.culprit, ev.exc_type)
    assert g.frames == ev.frames and g.basis == ev.basis and g.release == "r2"
    assert g.first_seen == g.last_seen == to_datetime(BASE_MS + 5) and g.last_event_id == ev.id
    assert g.count == 1 and g.state == "unresolved" and g.threshold_crossed_at is None


def test_counters_add_up_and_times_widen_across_batches(apply):
    apply([event(1, ts=BASE_MS + 100), event(1, ts=BASE_MS + 50, weight=3)])
    last = event(1, ts=BASE_MS + 10, release="r9")
    apply([event(1, ts=BASE_MS + 900), last])
    g = group()
    assert g.count == 6 and g.last_event_id == last.id and g.release == "r9"
    assert g.first_seen == to_datetime(BASE_MS + 10) and g.last_seen == to_datetime(BASE_MS + 900)
    assert g.threshold_crossed_at == to_datetime(BASE_MS + 50)
    assert list(ErrorHourly.objects.values_list("count", flat=True)) == [6]


def test_the_threshold_time_is_set_once(apply):
    apply([event(1)] * 3)
    first = group().threshold_crossed_at
    apply([event(1, ts=BASE_MS + 10**6)] * 3)
    assert group().threshold_crossed_at == first


def test_distinct_users_are_exact_under_repeats_and_capped(apply):
    rules = handlers.Rules(users_cap=3)
    apply([event(1, user_id="a"), event(1, user_id="b")], rules)
    apply([event(1, user_id="a"), event(1, client="c" * 32)], rules)
    assert group().users == 3
    apply([event(1, user_id="d"), event(1, user_id="e")], rules)
    assert group().users == 3 and GroupUser.objects.count() == 3


def test_known_users_are_not_written_again(store, apply):
    apply([event(1, user_id="a")])
    assert store.seen_users == {(group().id, handlers.key_hash("u:a"))}
    apply([event(1, user_id="a")])
    assert store._unconfirmed == [] and group().users == 1


def test_a_sample_already_stored_is_skipped(apply):
    ev = event(1)
    apply([ev, ev])
    apply([ev])
    assert ErrorLog.objects.count() == 1 and group().count == 3


def test_nul_characters_are_stored_safely(apply):
    apply([event(1, path="/a\x00b/", request={"q": "x\x00y"}, user_name="n\x00")])
    log = ErrorLog.objects.get()
    assert log.path == "/a\ufffdb/" and log.request_data == {"q": "x\ufffdy"} and log.user_name == "n\ufffd"
    assert group().path == "/a\ufffdb/"


def test_samples_keep_what_the_event_said(apply):
    ev = event(1, user_id="42", user_name="ann", client="k" * 32, known_bug="B-3", host="site.test", weight=2)
    apply([ev])
    log = ErrorLog.objects.get()
    assert (log.event_id, log.stream_id, log.fingerprint, log.group_id) == (ev.id, "1-0", ev.fingerprint, group().id)
    assert log.timestamp == to_datetime(ev.ts) and log.timestamp.tzinfo is not None
    assert (log.user_id, log.user_name, log.user, log.client) == ("42", "ann", "ann", "k" * 32)
    assert (log.known_bug, log.host, log.weight, log.url) == ("B-3", "site.test", 2, ev.url)
    assert log.request_data == ev.request and log.frames == ev.frames and str(log).startswith(ev.id)


def test_a_regression_unresolves_without_touching_an_ignored_group(apply):
    apply([event(1), event(2)])
    ErrorGroup.objects.filter(fingerprint=fingerprint(1)).update(state="resolved")
    ErrorGroup.objects.filter(fingerprint=fingerprint(2)).update(state="ignored")
    apply([event(1, ts=BASE_MS + 7), event(2, ts=BASE_MS + 7)])
    g1, g2 = group(1), group(2)
    assert g1.state == "unresolved" and g1.state_changed_at is not None and g1.regressed_at == to_datetime(BASE_MS + 7)
    assert g1.signal_pending and g1.signal_regression
    assert g2.state == "ignored" and g2.state_changed_at is None


def test_signal_bookkeeping(store, apply):
    plan = apply([event(1)] * 3)
    [crossed] = plan.signals
    g = group()
    assert g.signal_pending and g.signal_id == crossed.signal_id and crossed.group_id == g.id
    assert store.pending_signals() == [g.id]
    [row] = store.group_rows([g.id])
    assert row["first_seen"] == BASE_MS and row["sample"]["event_id"] == ErrorLog.objects.first().event_id
    assert store.mark_signalled([(g.id, "SOMEOTHERID")]) == 0
    assert store.mark_signalled([(g.id, g.signal_id)]) == 1
    g.refresh_from_db()
    assert not g.signal_pending and g.signalled_at is not None and store.pending_signals() == []


def test_a_stale_epoch_or_position_is_fenced(store):
    epoch, last = store.take(STREAM, "a")
    assert last == (0, 0) and store.position(STREAM) == (0, 0) and store.position("nope") == (0, 0)
    rules, known = handlers.Rules(), KnownMap()
    with pytest.raises(Fenced):
        store.apply(STREAM, epoch, (5, 0), (6, 0), [("6-0", event(1))], known, rules)
    store.apply(STREAM, epoch, (0, 0), (6, 0), [("6-0", event(1))], known, rules)
    newer, last = store.take(STREAM, "b")
    assert newer == epoch + 1 and last == (6, 0)
    with pytest.raises(Fenced):
        store.apply(STREAM, epoch, (6, 0), (7, 0), [("7-0", event(1))], known, rules)
    ck = Checkpoint.objects.get()
    assert (ck.owner, ck.applied, str(ck)) == ("b", 1, f"{STREAM} @ 6-0") and group().count == 1


def test_empty_and_restart_for_replay(store, apply):
    apply([event(1, user_id="u")])
    epoch, _ = store.take(STREAM, "replay")
    store.empty()
    assert not ErrorGroup.objects.exists() and not GroupUser.objects.exists() and store.seen_users == set()
    store.restart(STREAM, epoch, (9, 3))
    assert store.position(STREAM) == (9, 3)
    with pytest.raises(Fenced):
        store.restart(STREAM, epoch - 1, (1, 0))


def test_apply_entries_without_a_checkpoint(store):
    plan = store.apply_entries([("1-0", event(1)), ("2-0", event(2, cls="csrf"))], KnownMap(), handlers.Rules())
    assert plan.events == 2 and ErrorGroup.objects.count() == 2 and not Checkpoint.objects.exists()
    assert store.apply_entries([], KnownMap(), handlers.Rules()).events == 0


def test_helpers():
    assert json_bytes({"a": "\x00"}) == b'{"a":"\\ufffd"}'
    assert to_datetime(BASE_MS).tzinfo is timezone.utc
    assert conf.get()["DATABASE"] == "default"
