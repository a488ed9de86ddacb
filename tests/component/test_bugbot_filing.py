"""Filing on SQLite + fakeredis with an in-memory tracker: ids, one issue per pattern, retries, caps, regressions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bugbot import filing
from bugbot.models import Filing, KnownIssue
from bugbot.trackers import TrackerError
from contracts import codec
from contracts import known as known_map
from contracts.names import Names
from tests.bugbot_support.factories import csrf_signal, error_signal, fp
from tests.bugbot_support.fixtures import bugbot_env, down, fake_tracker  # noqa: F401

N = Names()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]


def audit(redis):
    return [codec.decode(f[b"e"]) for _, f in redis.xrange(N.signals)]


def test_three_signals_file_one_issue(fake_tracker, bugbot_env):
    fake_tracker.highest = 1
    outcomes = [filing.handle_signal(csrf_signal(count=n)) for n in (3, 4, 5)]
    assert outcomes[0] == "created:filed"
    assert len(fake_tracker.issues) == 1
    issue = KnownIssue.objects.get()
    assert issue.bug_id == "B-002"
    assert issue.filing_state == Filing.FILED
    assert fake_tracker.issues[1]["title"] == "B-002: CSRF failure on POST /appointments/<int:pk>/book/"
    entry = known_map.load(bugbot_env, N).exact[issue.error_fingerprint]
    assert entry.bug_id == "B-002" and entry.url == "https://github.test/o/r/issues/1"
    assert [e.TYPE for e in audit(bugbot_env)] == ["bug.filed"]


def test_created_then_502_after_create_is_adopted_not_duplicated(fake_tracker, bugbot_env):
    fake_tracker.fail_after_create = [down(502)]
    assert filing.handle_signal(csrf_signal()) == "created:retry"
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.PENDING and "502" in issue.last_error
    assert filing.retry_due() == {"adopted": 1}
    issue.refresh_from_db()
    assert issue.filing_state == Filing.FILED and issue.issue_number == 1
    assert len(fake_tracker.issues) == 1
    assert fake_tracker.calls == ["find:False", "create", "find:True"]
    events = audit(bugbot_env)
    assert [e.TYPE for e in events] == ["bug.failed", "bug.filed"]
    assert events[0].final is False and events[1].adopted is True


def test_retryable_failures_back_off_then_fail_for_good_then_staff_retry(fake_tracker, bugbot_env, settings):
    from bugbot import services

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "FILING_MAX_ATTEMPTS": 2, "FILING_BACKOFF_S": 60.0}
    fake_tracker.fail = [down(), down(), down()]
    filing.handle_signal(csrf_signal())
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.PENDING and issue.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert filing.retry_due() == {}  # not due yet
    KnownIssue.objects.update(next_attempt_at=timezone.now())
    assert filing.retry_due() == {"failed": 1}
    issue.refresh_from_db()
    assert issue.filing_state == Filing.FAILED and issue.attempts == 2
    assert audit(bugbot_env)[-1].final is True
    assert filing.retry_due() == {}
    services.retry_failed(issue)  # a retryable failure remains scripted: this attempt fails once more
    issue.refresh_from_db()
    assert issue.filing_state == Filing.PENDING and issue.attempts == 1 and issue.cap_exempt
    KnownIssue.objects.update(next_attempt_at=timezone.now())
    assert filing.retry_due() == {"filed": 1}
    assert len(fake_tracker.issues) == 1


def test_fatal_error_fails_at_once(fake_tracker):
    fake_tracker.fail = [TrackerError("Bad credentials", "fatal", 401)]
    assert filing.handle_signal(csrf_signal()) == "created:failed"
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.FAILED and "401" in issue.last_error


def test_short_rate_limit_is_waited_in_place(fake_tracker, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "GITHUB_MAX_WAIT_S": 5.0}
    fake_tracker.fail = [TrackerError("secondary rate limit", "rate_limited", 403, wait_s=1.0)]
    slept = []
    issue, _ = filing.record(csrf_signal())
    assert filing.attempt(issue.pk, sleep=slept.append) == "filed"
    assert slept == [1.0]
    assert len(fake_tracker.issues) == 1


def test_long_rate_limit_reschedules_without_counting_an_attempt(fake_tracker, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "GITHUB_MAX_WAIT_S": 5.0}
    fake_tracker.fail = [TrackerError("rate limit", "rate_limited", 403, wait_s=600.0)]
    assert filing.handle_signal(csrf_signal()) == "created:retry"
    issue = KnownIssue.objects.get()
    assert issue.attempts == 0
    assert issue.next_attempt_at >= timezone.now() + timedelta(seconds=590)


def test_unexpected_backend_error_is_retried(fake_tracker):
    fake_tracker.fail = [RuntimeError("boom")]
    assert filing.handle_signal(csrf_signal()) == "created:retry"
    assert "RuntimeError: boom" in KnownIssue.objects.get().last_error


def test_caps_hold_then_release_when_room_returns(fake_tracker, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_BUGS_PER_HOUR": 2, "MAX_BUGS_PER_DAY": 3}
    outcomes = [filing.handle_signal(csrf_signal(n)) for n in range(5)]
    assert outcomes == ["created:filed"] * 2 + ["created:held"] * 3
    assert KnownIssue.objects.filter(filing_state=Filing.HELD).count() == 3
    assert filing.retry_due() == {}  # no room: held ones are not even tried
    KnownIssue.objects.filter(filing_state=Filing.FILED).update(counted_at=timezone.now() - timedelta(hours=2))
    assert filing.retry_due() == {"filed": 1, "held": 2}  # the day cap (3) now binds
    assert len(fake_tracker.issues) == 3
    assert [i.bug_id for i in KnownIssue.objects.filter(filing_state=Filing.FILED).order_by("bug_number")] == [
        "B-001", "B-002", "B-003"]


def test_staff_request_ignores_caps(fake_tracker, settings):
    from bugbot import services

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_BUGS_PER_HOUR": 0}
    assert filing.handle_signal(csrf_signal()) == "created:held"
    issue = services.request_filing(csrf_signal(), by_staff=True)
    issue.refresh_from_db()
    assert issue.filing_state == Filing.FILED and issue.cap_exempt
    fresh = services.request_filing(error_signal(), by_staff=True)
    fresh.refresh_from_db()
    assert fresh.filing_state == Filing.FILED and fresh.created_by == "staff"


def test_regression_reopens_the_same_issue_once(fake_tracker, bugbot_env):
    from bugbot import sync

    filing.handle_signal(error_signal())
    issue = KnownIssue.objects.get()
    fake_tracker.issues[1]["state"] = "closed"
    assert sync.set_status(1, "fixed") == 1
    issue.refresh_from_db()
    assert issue.status == "fixed" and issue.fixed_at
    entry = known_map.load(bugbot_env, N).exact[issue.error_fingerprint]
    assert entry.status == "fixed" and entry.fixed_at == int(issue.fixed_at.timestamp() * 1000)
    assert filing.handle_signal(error_signal(regression=True, count=9)) == "regression:reopened"
    assert filing.handle_signal(error_signal(regression=True, count=10)) == "exists"
    issue.refresh_from_db()
    assert issue.status == "open" and issue.regression_count == 1 and issue.filing_state == Filing.FILED
    assert fake_tracker.issues[1]["state"] == "open" and len(fake_tracker.issues) == 1
    assert len(fake_tracker.comments[1]) == 1 and "regression 1" in fake_tracker.comments[1][0]
    assert known_map.load(bugbot_env, N).exact[issue.error_fingerprint].status == "open"
    assert audit(bugbot_env)[-1].reopened is True


def test_recurrence_seen_after_the_fix_is_a_regression_even_unflagged(fake_tracker):
    filing.handle_signal(error_signal())
    fixed_at = timezone.now() - timedelta(minutes=5)
    KnownIssue.objects.update(status="fixed", fixed_at=fixed_at)
    old = int((fixed_at - timedelta(minutes=1)).timestamp() * 1000)
    assert filing.handle_signal(error_signal(last_seen=old)) == "exists"
    assert filing.handle_signal(error_signal()) == "regression:reopened"


def test_regression_of_a_failed_filing_just_reopens_the_known_issue(fake_tracker):
    fake_tracker.fail = [TrackerError("nope", "fatal", 404)]
    filing.handle_signal(error_signal())
    KnownIssue.objects.update(status="fixed", fixed_at=timezone.now())
    assert filing.handle_signal(error_signal(regression=True)) == "regression:skipped"
    issue = KnownIssue.objects.get()
    assert issue.status == "open" and issue.filing_state == Filing.FAILED and not fake_tracker.issues


def test_wontfix_and_pattern_covered_signals_file_nothing(fake_tracker):
    from bugbot import services

    filing.handle_signal(error_signal())
    KnownIssue.objects.update(status="wontfix")
    assert filing.handle_signal(error_signal(regression=True)) == "exists"
    services.create_pattern_issue("csrf", "/appointments/*", "Booking is being fixed")
    assert filing.handle_signal(csrf_signal()) == "covered"
    assert len(fake_tracker.issues) == 1
    assert KnownIssue.objects.count() == 2


def test_abandoned_claim_is_taken_over_and_adopts(fake_tracker, settings):
    issue, _ = filing.record(csrf_signal())
    KnownIssue.objects.update(filing_state=Filing.FILING, claimed_at=timezone.now(), attempts=1,
                              counted_at=timezone.now())
    fake_tracker.create("B-001: made by a worker that died", f"x\n<!-- errortrail:fingerprint={fp('csrf-book')} -->",
                        [])
    assert filing.attempt(issue.pk) == "skipped"  # the claim is fresh: another worker may be busy with it
    KnownIssue.objects.update(claimed_at=timezone.now() - timedelta(hours=1))
    assert filing.retry_due() == {"adopted": 1}
    assert len(fake_tracker.issues) == 1


def test_a_result_after_the_claim_was_taken_over_is_dropped(fake_tracker):
    from bugbot.trackers import IssueRef

    issue, _ = filing.record(csrf_signal())
    issue.refresh_from_db()
    ref = IssueRef(number=7, url="https://github.test/o/r/issues/7")
    assert filing._filed(issue, "not-the-token", ref, False, False, fake_tracker) == "lost"
    assert filing._failed(issue, "not-the-token", down(), filing.policy.FailurePlan("retry", 1), fake_tracker) == "lost"
    assert KnownIssue.objects.get().filing_state == Filing.PENDING
    assert filing.attempt(10_000) == "missing"


def test_ids_continue_after_the_trackers_highest_and_grow_past_999(fake_tracker):
    from bugbot import bugids
    from bugbot.models import BugCounter

    fake_tracker.highest = 41
    filing.handle_signal(csrf_signal(1))
    assert KnownIssue.objects.get().bug_id == "B-042"
    BugCounter.objects.filter(name="bug_id").update(value=998)
    filing.handle_signal(csrf_signal(2))
    filing.handle_signal(csrf_signal(3))
    assert sorted(KnownIssue.objects.values_list("bug_id", flat=True)) == ["B-042", "B-1000", "B-999"]
    assert bugids.peek() == 1001


def test_tracker_down_for_the_highest_id_falls_back_to_local(fake_tracker, caplog):
    fake_tracker.highest = down()
    filing.handle_signal(csrf_signal())
    assert KnownIssue.objects.get().bug_id == "B-001"
    assert "highest bug id" in caplog.text


def test_local_backend_links_the_dashboard(bugbot_env):
    assert filing.handle_signal(csrf_signal()) == "created:filed"
    issue = KnownIssue.objects.get()
    assert issue.backend == "local" and issue.issue_number is None
    assert issue.github_issue_url == "https://site.test/errors/known/B-001/"
    entry = known_map.load(bugbot_env, N).exact[issue.error_fingerprint]
    assert entry.url == "https://site.test/errors/known/B-001/"


def test_audit_events_survive_redis_refusing(fake_tracker, monkeypatch, caplog):
    import redis

    from bugbot import connection

    class Broken:
        def xadd(self, *a, **k):
            raise redis.ConnectionError("down")

        def pipeline(self, *a, **k):
            raise redis.ConnectionError("down")

    monkeypatch.setattr(connection, "client", lambda: Broken())
    assert filing.handle_signal(csrf_signal()) == "created:filed"
    assert "could not record bug.filed" in caplog.text
    assert "could not publish known issue" in caplog.text


def test_local_regression_reopens_without_a_remote(bugbot_env):
    filing.handle_signal(error_signal())
    KnownIssue.objects.update(status="fixed", fixed_at=timezone.now())
    assert filing.handle_signal(error_signal(regression=True)) == "regression:reopened"
    issue = KnownIssue.objects.get()
    assert (issue.status, issue.filing_state, str(issue)) == ("open", Filing.FILED, issue.title)


def test_allocation_outside_a_transaction_is_refused(bugbot_env):
    from bugbot import bugids
    from bugbot.models import BugCounter

    with pytest.raises(RuntimeError):
        bugids.allocate()
    bugids.lock("other")
    assert str(BugCounter.objects.get(name="other")) == "other=1"


def test_a_misconfigured_backend_fails_filings_visibly_not_signals(bugbot_env, settings, caplog):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "BUG_BACKEND": "github", "GITHUB_REPO": "", "GITHUB_TOKEN": ""}
    assert filing.handle_signal(csrf_signal()) == "created:failed"
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.FAILED and "GITHUB_REPO" in issue.last_error
    assert "backend is unusable" in caplog.text
