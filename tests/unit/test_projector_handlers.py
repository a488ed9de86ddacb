"""Pure planning: summing, hourly buckets, sampling, thresholds, regressions, known-issue coverage."""

from __future__ import annotations

import dataclasses

import pytest

from contracts import codec, ids
from contracts.events import ThresholdCrossed
from contracts.known import KnownEntry, KnownMap
from projector import handlers
from projector.handlers import GroupState, Rules, plan
from tests.projector_support.factories import BASE_MS, event, fingerprint

RULES = Rules(threshold=3, samples_per_minute=10, users_cap=1000)


def entries(events):
    return [(f"{BASE_MS + i}-0", e) for i, e in enumerate(events)]


def test_counts_are_summed_per_fingerprint_with_weights():
    evs = [event(1), event(1, weight=5), event(2), event(1, ts=BASE_MS + 10)]
    p = plan(entries(evs), {}, KnownMap(), RULES)
    assert p.events == 4 and p.weight == 8
    assert {fp: g.count for fp, g in p.groups.items()} == {fingerprint(1): 7, fingerprint(2): 1}
    g = p.groups[fingerprint(1)]
    assert g.is_new and g.first is evs[0] and g.last is evs[3]
    assert (g.first_seen, g.last_seen) == (BASE_MS, BASE_MS + 10)


def test_first_and_last_seen_follow_event_time_not_stream_order():
    evs = [event(1, ts=BASE_MS + 500), event(1, ts=BASE_MS), event(1, ts=BASE_MS + 900)]
    g = plan(entries(evs), {}, KnownMap(), RULES).groups[fingerprint(1)]
    assert (g.first_seen, g.last_seen) == (BASE_MS, BASE_MS + 900)


def test_hourly_buckets_per_group_and_class():
    hour = handlers.HOUR_MS
    evs = [event(1), event(1, ts=BASE_MS + hour - 1), event(1, ts=BASE_MS + hour, weight=2),
           event(2, cls="not_found", ts=BASE_MS + 5)]
    p = plan(entries(evs), {}, KnownMap(), RULES)
    assert p.hourly == {(fingerprint(1), BASE_MS): 2, (fingerprint(1), BASE_MS + hour): 2,
                        (fingerprint(2), BASE_MS): 1}
    assert p.class_hourly == {("app_error", BASE_MS): 2, ("app_error", BASE_MS + hour): 2, ("not_found", BASE_MS): 1}


def test_samples_are_limited_per_group_and_minute_while_counts_stay_exact():
    evs = [event(1, ts=BASE_MS + i * 100) for i in range(25)] + [event(1, ts=BASE_MS + 60_000 + i) for i in range(3)]
    p = plan(entries(evs), {}, KnownMap(), Rules(samples_per_minute=10))
    assert p.groups[fingerprint(1)].count == 28
    assert [e.ts for _, e in p.samples] == [e.ts for e in evs[:10]] + [e.ts for e in evs[25:]]
    g = p.groups[fingerprint(1)]
    assert (g.sample_minute, g.sample_count) == ((BASE_MS + 60_000) // 60_000, 3)


def test_sampling_is_the_same_whatever_the_batch_boundaries():
    evs = [event(i % 3, ts=BASE_MS + i * 997) for i in range(200)]
    whole = plan(entries(evs), {}, KnownMap(), RULES)
    state: dict[str, GroupState] = {}
    picked = []
    for start in range(0, 200, 7):
        part = plan(entries(evs)[start : start + 7], state, KnownMap(), RULES)
        picked += part.samples
        for fp, g in part.groups.items():
            old = state.get(fp) or GroupState(id=len(state) + 1)
            state[fp] = dataclasses.replace(old, count=g.total, sample_minute=g.sample_minute, sample_count=g.sample_count)
    assert [e.id for _, e in picked] == [e.id for _, e in whole.samples]


def test_an_older_minute_arriving_late_is_counted_but_not_sampled():
    existing = {fingerprint(1): GroupState(id=1, count=5, sample_minute=BASE_MS // 60_000 + 2, sample_count=1)}
    p = plan(entries([event(1)]), existing, KnownMap(), RULES)
    assert p.groups[fingerprint(1)].count == 1 and p.samples == []


def test_no_samples_when_the_limit_is_zero():
    assert plan(entries([event(1), event(2)]), {}, KnownMap(), Rules(samples_per_minute=0)).samples == []


def test_threshold_crossing_signals_once_at_the_event_that_reaches_it():
    evs = [event(1, ts=BASE_MS + i) for i in range(5)]
    p = plan(entries(evs), {}, KnownMap(), RULES)
    g = p.groups[fingerprint(1)]
    assert g.crossed_ms == evs[2].ts
    assert p.signals == [g] and not g.signal_regression
    assert ids.is_id(g.signal_id) and ids.id_time_ms(g.signal_id) == evs[2].ts
    again = plan(entries(evs), {}, KnownMap(), RULES).groups[fingerprint(1)]
    assert again.signal_id == g.signal_id  # same decision, same id: publishing twice is harmless


def test_a_weighted_event_can_cross_alone():
    g = plan(entries([event(1, weight=7)]), {}, KnownMap(), RULES).groups[fingerprint(1)]
    assert g.crossed_ms == BASE_MS and g.signal_id


def test_crossing_continues_from_the_stored_count():
    existing = {fingerprint(1): GroupState(id=4, count=2)}
    g = plan(entries([event(1)]), existing, KnownMap(), RULES).groups[fingerprint(1)]
    assert g.total == 3 and g.count == 1 and g.signal_id


def test_a_group_that_crossed_before_does_not_signal_again():
    existing = {fingerprint(1): GroupState(id=4, count=2, crossed=True)}
    g = plan(entries([event(1)]), existing, KnownMap(), RULES).groups[fingerprint(1)]
    assert not g.signal_id and not g.crossed_ms


@pytest.mark.parametrize("cls", ["probe", "not_found", "client_error", "permission"])
def test_classes_that_do_not_file_bugs_cross_without_a_signal(cls):
    g = plan(entries([event(1, cls=cls)] * 3), {}, KnownMap(), RULES).groups[fingerprint(1)]
    assert g.crossed_ms and not g.signal_id


def test_bug_classes_come_from_the_rules():
    rules = Rules(bug_classes=frozenset({"not_found"}))
    g = plan(entries([event(1, cls="not_found")] * 3), {}, KnownMap(), rules).groups[fingerprint(1)]
    assert g.signal_id


def test_an_ignored_group_never_signals():
    existing = {fingerprint(1): GroupState(id=1, count=2, state="ignored")}
    g = plan(entries([event(1)]), existing, KnownMap(), RULES).groups[fingerprint(1)]
    assert g.crossed_ms and not g.signal_id and g.state == "ignored"


def known(*entries_):
    return KnownMap(entries_, version=1)


def exact(n, status="open", fixed_at=0):
    return KnownEntry(bug_id="B-1", message="m", status=status, fingerprint=fingerprint(n), fixed_at=fixed_at)


@pytest.mark.parametrize("entry", [
    exact(1), exact(1, status="wontfix"), exact(1, status="fixed", fixed_at=BASE_MS + 10**9),
    KnownEntry(bug_id="B-2", message="m", error_type="500", glob="/things/*"),
    KnownEntry(bug_id="B-3", message="m", error_type="*", glob="/things/1/", status="wontfix"),
])
def test_a_group_covered_by_the_known_map_does_not_signal(entry):
    g = plan(entries([event(1)] * 3), {}, known(entry), RULES).groups[fingerprint(1)]
    assert g.crossed_ms and not g.signal_id


def test_a_pattern_for_another_path_or_type_does_not_cover():
    entry = KnownEntry(bug_id="B-2", message="m", error_type="404", glob="/things/*")
    g = plan(entries([event(1)] * 3), {}, known(entry), RULES).groups[fingerprint(1)]
    assert g.signal_id


def test_a_resolved_group_receiving_an_event_regresses():
    existing = {fingerprint(1): GroupState(id=1, count=10, crossed=True, state="resolved")}
    evs = [event(1, ts=BASE_MS + 1), event(1, ts=BASE_MS + 2)]
    g = plan(entries(evs), existing, KnownMap(), RULES).groups[fingerprint(1)]
    assert g.unresolve and g.state == "unresolved" and g.regressed_ms == evs[0].ts
    assert g.signal_id and g.signal_regression
    assert ids.id_time_ms(g.signal_id) == evs[0].ts


def test_a_resolved_group_with_an_open_known_issue_unresolves_without_a_signal():
    existing = {fingerprint(1): GroupState(id=1, count=10, crossed=True, state="resolved")}
    g = plan(entries([event(1)]), existing, known(exact(1)), RULES).groups[fingerprint(1)]
    assert g.unresolve and not g.signal_id


def test_a_resolved_probe_unresolves_without_a_signal():
    existing = {fingerprint(1): GroupState(id=1, count=10, crossed=True, state="resolved")}
    g = plan(entries([event(1, cls="probe")]), existing, KnownMap(), RULES).groups[fingerprint(1)]
    assert g.unresolve and not g.signal_id


def test_a_fixed_known_issue_recurring_at_the_threshold_after_the_fix_is_a_regression():
    fixed_at = BASE_MS + 1000
    existing = {fingerprint(1): GroupState(id=1, count=50, crossed=True)}
    evs = [event(1, ts=BASE_MS + 500)] + [event(1, ts=fixed_at + 1 + i) for i in range(4)]
    g = plan(entries(evs), existing, known(exact(1, "fixed", fixed_at)), RULES).groups[fingerprint(1)]
    assert g.fixed_at_seen == fixed_at and g.after_fix_count == 4
    assert g.signal_regression and ids.id_time_ms(g.signal_id) == evs[3].ts
    assert g.regressed_ms == evs[3].ts and not g.unresolve


def test_the_after_fix_count_carries_over_batches_and_fires_once():
    fixed_at = BASE_MS
    km = known(exact(1, "fixed", fixed_at))
    first = plan(entries([event(1, ts=BASE_MS + 1)] * 2), {fingerprint(1): GroupState(id=1, count=9)}, km, RULES)
    g = first.groups[fingerprint(1)]
    assert g.after_fix_count == 2 and not g.signal_id
    state = GroupState(id=1, count=11, fixed_at_seen=g.fixed_at_seen, after_fix_count=2)
    second = plan(entries([event(1, ts=BASE_MS + 2)] * 3), {fingerprint(1): state}, km, RULES).groups[fingerprint(1)]
    assert second.after_fix_count == 5 and second.signal_regression
    done = GroupState(id=1, count=14, fixed_at_seen=fixed_at, after_fix_count=5, regressed_ms=second.regressed_ms)
    third = plan(entries([event(1, ts=BASE_MS + 3)] * 5), {fingerprint(1): done}, km, RULES).groups[fingerprint(1)]
    assert not third.signal_id


def test_a_new_fix_time_restarts_the_after_fix_count():
    state = GroupState(id=1, count=20, fixed_at_seen=BASE_MS - 10, after_fix_count=2, regressed_ms=BASE_MS - 5)
    g = plan(entries([event(1, ts=BASE_MS + 5)]), {fingerprint(1): state}, known(exact(1, "fixed", BASE_MS)),
             RULES).groups[fingerprint(1)]
    assert (g.fixed_at_seen, g.after_fix_count) == (BASE_MS, 1)


def test_a_fixed_pattern_counts_too_and_an_ignored_group_stays_quiet():
    entry = KnownEntry(bug_id="B-9", message="m", error_type="500", glob="/things/*", status="fixed", fixed_at=BASE_MS)
    evs = [event(1, ts=BASE_MS + 1 + i) for i in range(3)]
    g = plan(entries(evs), {fingerprint(1): GroupState(id=1, count=40)}, known(entry), RULES).groups[fingerprint(1)]
    assert g.signal_regression
    quiet = plan(entries(evs), {fingerprint(1): GroupState(id=1, count=40, state="ignored")}, known(entry), RULES)
    assert not quiet.groups[fingerprint(1)].signal_id


def test_a_fixed_entry_without_a_fix_time_is_not_watched():
    g = plan(entries([event(1)] * 5), {fingerprint(1): GroupState(id=1, count=40)}, known(exact(1, "fixed")),
             RULES).groups[fingerprint(1)]
    assert g.fixed is None and g.after_fix_count == 0


def test_distinct_users_are_hashed_and_capped_groups_collect_none():
    evs = [event(1, user_id="7"), event(1, user_id="7"), event(1, client="c" * 32), event(1), event(2, user_id="7")]
    p = plan(entries(evs), {fingerprint(2): GroupState(id=2, users=1000)}, KnownMap(), RULES)
    assert p.groups[fingerprint(1)].user_keys == {handlers.key_hash("u:7"), handlers.key_hash("c:" + "c" * 32)}
    assert p.groups[fingerprint(2)].user_keys == set()


def test_key_hash_is_stable_and_signed_64_bit():
    assert handlers.key_hash("u:1") == handlers.key_hash("u:1") != handlers.key_hash("u:2")
    assert -(2**63) <= handlers.key_hash("c:x") < 2**63


def test_derived_ids_are_valid_ids_of_the_given_time():
    a = handlers.derived_id(BASE_MS, "seed")
    assert ids.is_id(a) and ids.id_time_ms(a) == BASE_MS
    assert a == handlers.derived_id(BASE_MS, "seed") != handlers.derived_id(BASE_MS, "other")


@pytest.mark.parametrize("kwargs, title", [
    ({}, "ValueError: bad thing 1 in app.views:view_1"),
    ({"cls": "not_found"}, "404 on GET /things/1/"),
    ({"cls": "not_found", "route": None, "path": "/x/9/"}, "404 on GET /x/9/"),
    ({"cls": "csrf", "csrf_kind": "token_missing"}, "CSRF failure (token_missing) on GET /things/1/"),
    ({"exc_message": None, "culprit": None}, "ValueError"),
])
def test_titles(kwargs, title):
    assert handlers.title_for(event(1, **kwargs)) == title


def test_titles_are_capped():
    assert len(handlers.title_for(event(1, exc_message="x" * 2000))) == 256


def group_row(**kw):
    e = event(1)
    row = dict(
        fingerprint=e.fingerprint, basis=e.basis, title="t", cls=e.cls, error_type=e.error_type, status=e.status,
        method="GET", path=e.path, count=5, first_seen=BASE_MS, last_seen=BASE_MS + 9, route=e.route, users=2,
        culprit=e.culprit, exc_type=e.exc_type, exc_message=e.exc_message, frames=e.frames, csrf_kind="",
        release="r1", environment="", signal_id=handlers.derived_id(BASE_MS + 5, "x"), signal_regression=False,
    )
    row.update(kw)
    return row


def test_signal_events_carry_what_bugbot_needs_and_encode():
    sample = {"event_id": ids.new_id(BASE_MS), "request_data": {"query": {"b": "x" * 3000, "a": 1}}}
    ev = handlers.signal_event(group_row(), 3, sample)
    assert isinstance(ev, ThresholdCrossed)
    assert ev.ts == BASE_MS + 5 and ev.count == 5 and ev.threshold == 3 and ev.users == 2
    assert ev.sample_request.startswith('{"query":{"a":1') and len(ev.sample_request) == 1024
    assert ev.csrf_kind is None and ev.environment is None and ev.release == "r1"
    assert codec.decode(codec.encode(ev)) == ev


def test_signal_events_without_a_sample():
    ev = handlers.signal_event(group_row(route="", culprit="", exc_type="", exc_message="", signal_regression=True), 3)
    assert ev.route is None and ev.sample_request is None and ev.sample_event_id is None and ev.regression


def test_stream_ids_compare_as_integer_pairs():
    assert handlers.order_key("10-2") > handlers.order_key("9-11")
    assert handlers.order_key("5") == (5, 0)
    es = [("9-11", 1), ("10-0", 2), ("10-2", 3)]
    assert handlers.newer_than(es, (10, 0)) == [("10-2", 3)]


def test_rules_from_settings():
    rules = Rules.from_conf({"THRESHOLD": 7, "BUG_CLASSES": ("csrf",), "SAMPLES_PER_MINUTE": 2, "DISTINCT_USERS_CAP": 9})
    assert rules == Rules(7, frozenset({"csrf"}), 2, 9)
