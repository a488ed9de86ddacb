"""The dashboard's entry points: preview, file now, mark known, edit, retry, pattern issues, republish."""

from __future__ import annotations

import pytest

from bugbot import services
from bugbot.models import Filing, KnownIssue
from bugbot.services import ServiceError
from contracts import known as known_map
from contracts.names import Names
from tests.bugbot_support.factories import csrf_signal, error_signal, fp
from tests.bugbot_support.fixtures import bugbot_env, down, fake_tracker  # noqa: F401

N = Names()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]


def test_preview_shows_the_exact_title_and_body(fake_tracker):
    signal = csrf_signal()  # one signal: its first/last seen times are part of the body
    title, body = services.preview(signal)
    assert title == "B-001: CSRF failure on POST /appointments/<int:pk>/book/"
    assert "https://site.test/errors/patterns/" in body and body.rstrip().endswith("-->")
    assert KnownIssue.objects.count() == 0  # a preview allocates nothing
    issue = services.request_filing(signal)
    assert services.preview(signal)[0] == issue.title
    assert services.preview(error_signal())[0].startswith("B-002: ")
    assert fake_tracker.issues[1]["body"] == body


def test_request_filing_queues_and_files(fake_tracker):
    issue = services.request_filing(error_signal(), by_staff=False)
    issue.refresh_from_db()
    assert issue.filing_state == Filing.FILED and issue.created_by == "auto"
    assert services.filing_counts()["filed"] == 1 and services.backend_name() == "local"


def test_queue_survives_a_broker_that_is_down(bugbot_env, monkeypatch, caplog):
    from kombu.exceptions import OperationalError

    from bugbot import tasks

    def refused(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker")

    monkeypatch.setattr(tasks.file_bug, "delay", refused)
    issue = services.request_filing(error_signal())
    assert KnownIssue.objects.get(pk=issue.pk).filing_state == Filing.PENDING  # run_bugbot's retries will file it
    assert "could not queue filing" in caplog.text
    monkeypatch.setattr(tasks.push_state, "delay", refused)
    KnownIssue.objects.filter(pk=issue.pk).update(issue_number=5, backend="github")
    services.update(issue, status="fixed")
    assert "could not queue" in caplog.text.split("could not queue filing")[-1]


@pytest.mark.parametrize("ref, parsed", [
    ("B-12", (12, "", None)), ("b-012", (12, "", None)), ("B-1000", (1000, "", None)),
    ("https://github.com/o/r/issues/7", (None, "https://github.com/o/r/issues/7", 7)),
    ("https://ghe.example/api/v3/repos/o/r/issues/8", (None, "https://ghe.example/api/v3/repos/o/r/issues/8", 8)),
])
def test_parse_bug_ref(bugbot_env, ref, parsed):
    assert services.parse_bug_ref(ref) == parsed


@pytest.mark.parametrize("ref", ["B-", "12", "https://github.com/o/r/pull/7", "B-12 and more", ""])
def test_parse_bug_ref_refuses(bugbot_env, ref):
    with pytest.raises(ServiceError):
        services.parse_bug_ref(ref)


def test_mark_known_with_a_bug_id_publishes_at_once(bugbot_env):
    issue = services.mark_known(fp(1), "B-7", "We're on it", event=csrf_signal(1))
    assert (issue.bug_id, issue.filing_state, issue.created_by) == ("B-007", Filing.NONE, "staff")
    assert issue.title.startswith("B-007: CSRF failure")
    entry = known_map.load(bugbot_env, Names()).exact[fp(1)]
    assert (entry.bug_id, entry.message) == ("B-007", "We're on it")
    again = services.mark_known(fp(2), "B-007")  # a second pattern of the same bug
    assert again.bug_id == "B-007" and KnownIssue.objects.count() == 2
    KnownIssue.objects.filter(pk=issue.pk).update(github_issue_url="https://github.test/o/r/issues/3",
                                                  issue_number=3, backend="github")
    third = services.mark_known(fp(5), "B-007")  # takes the issue link the bug already has
    assert (third.issue_number, third.filing_state) == (3, Filing.FILED)
    assert services.request_filing(csrf_signal(3)).bug_id == "B-008"  # ids continue after what staff used


def test_mark_known_links_an_issue_url_and_reads_its_bug_id(fake_tracker, bugbot_env):
    fake_tracker.create("B-041: something", "body", [])
    issue = services.mark_known(fp(1), "https://github.test/o/r/issues/1", "Known")
    assert (issue.bug_id, issue.issue_number, issue.filing_state) == ("B-041", 1, Filing.FILED)
    assert known_map.load(bugbot_env, Names()).exact[fp(1)].url == "https://github.test/o/r/issues/1"
    other = services.mark_known(fp(2), "https://github.test/o/r/issues/1")
    assert other.bug_id == "B-041"
    fake_tracker.create("No id in this title", "body", [])
    fresh = services.mark_known(fp(3), "https://github.test/o/r/issues/2")
    assert fresh.bug_id == "B-042"
    fake_tracker.fail = [down()]
    assert services.mark_known(fp(4), "https://github.test/o/r/issues/9").bug_id == "B-043"


def test_mark_known_existing_and_pattern_rules(fake_tracker):
    issue = services.request_filing(csrf_signal(1))
    linked = services.mark_known(fp(1), "", "New words")
    assert linked.pk == issue.pk and linked.bug_id == issue.bug_id and linked.friendly_message == "New words"
    pattern = services.create_pattern_issue("csrf", "/api/*", "API CSRF is known")
    assert pattern.is_pattern and pattern.title == f"{pattern.bug_id}: csrf errors on /api/*"
    with pytest.raises(ServiceError, match="already has a pattern"):
        services.mark_known(("404", "/x/*"), pattern.bug_id)
    for bad in [("", "/x"), ("csrf", ""), ("x" * 33, "/x")]:
        with pytest.raises(ServiceError):
            services.mark_known(bad)
    with pytest.raises(ServiceError, match="fingerprint"):
        services.mark_known("abc")
    with pytest.raises(ServiceError, match="longer"):
        services.mark_known(fp(9), "", "x" * 1001)


def test_pattern_issue_filed_on_request(fake_tracker):
    issue = services.create_pattern_issue("403", "/admin/*", "Admin is locked", file=True)
    issue.refresh_from_db()
    assert issue.filing_state == Filing.FILED and issue.issue_number == 1
    body = fake_tracker.issues[1]["body"]
    assert "`/admin/*`" in body and f"errortrail:fingerprint=pattern-{issue.bug_id}" in body


def test_update_message_and_status_pushes_to_the_tracker(fake_tracker, bugbot_env):
    issue = services.request_filing(error_signal())
    services.update(issue, message="Fixed in 2.1")
    issue = services.update(issue, status="fixed")
    assert issue.fixed_at and fake_tracker.issues[1]["state"] == "closed"
    assert fake_tracker.calls[-1] == "state:closed:completed"
    entry = known_map.load(bugbot_env, Names()).exact[issue.error_fingerprint]
    assert (entry.status, entry.message) == ("fixed", "Fixed in 2.1")
    services.update(issue, status="wontfix")
    assert fake_tracker.calls[-1] == "state:closed:not_planned"
    services.update(issue, status="open")
    assert fake_tracker.calls[-1] == "state:open:None" and KnownIssue.objects.get().fixed_at is None
    fake_tracker.fail = [down()]
    services.update(issue, status="fixed")
    assert "status not pushed" in KnownIssue.objects.get().last_error
    for bad in ({"status": "closed"}, {"message": "x" * 1001}):
        with pytest.raises(ServiceError):
            services.update(issue, **bad)


def test_retry_failed_refuses_a_filed_issue(fake_tracker):
    issue = services.request_filing(error_signal())
    issue.refresh_from_db()
    with pytest.raises(ServiceError, match="not failed or held"):
        services.retry_failed(issue)


def test_republish_known_map(bugbot_env):
    services.mark_known(fp(1), "B-1")
    bugbot_env.delete(N.known)
    assert services.republish_known_map() > 1
    assert fp(1) in known_map.load(bugbot_env, Names()).exact
