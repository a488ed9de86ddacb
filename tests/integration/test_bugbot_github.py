"""Filing into the GitHub stand-in over real HTTP, with the real PyGithub and the real gh, faults included."""

from __future__ import annotations

import re
import shutil
import time
import uuid

import pytest
from django.test import Client

from bugbot import filing, loop, services
from bugbot.models import Filing, KnownIssue
from bugbot.trackers import TrackerError
from contracts import codec
from contracts import known as known_map
from contracts.names import Names
from tests.bugbot_support.factories import csrf_signal, error_signal
from tests.bugbot_support.fixtures import bugbot_env  # noqa: F401
from tests.github_standin import webhook
from tests.github_standin.fixtures import github_standin  # noqa: F401

N = Names()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends,
              pytest.mark.urls("tests.bugbot_support.urls")]
SECRET = "standin-webhook-secret"


@pytest.fixture(params=["github", "gh"])
def backend(request, github_standin, bugbot_env, settings):
    """Bugbot configured for the stand-in with the PyGithub backend, then with gh."""
    if request.param == "gh" and shutil.which("gh") is None:
        pytest.skip("gh is not installed (apt-get install gh)")
    settings.ERRORTRAIL = {
        **settings.ERRORTRAIL, "BUG_BACKEND": request.param, "GITHUB_API_URL": github_standin.url,
        "GITHUB_TOKEN": github_standin.token, "GITHUB_REPO": github_standin.repo_name, "GITHUB_THROTTLE": False,
        "GITHUB_MAX_WAIT_S": 5.0, "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_READ_RETRIES": 1,
    }
    return github_standin


def filed_issues(standin):
    return [i for i in standin.issues() if i.number > 1]


def test_three_signals_make_exactly_one_issue_b002(backend, bugbot_env):
    outcomes = [filing.handle_signal(csrf_signal(count=n)) for n in (3, 4, 5)]
    assert outcomes == ["created:filed", "exists", "exists"]
    [issue] = filed_issues(backend)
    assert issue.title == "B-002: CSRF failure on POST /appointments/<int:pk>/book/"
    assert set(issue.labels) == {"bug", "errortrail"} and issue.state == "open"
    known = KnownIssue.objects.get()
    assert (known.bug_id, known.filing_state, known.issue_number) == ("B-002", Filing.FILED, issue.number)
    assert known.github_issue_url.endswith(f"/issues/{issue.number}")
    entry = known_map.load(bugbot_env, Names()).exact[known.error_fingerprint]
    assert entry.bug_id == "B-002" and entry.url == known.github_issue_url
    assert f"<!-- errortrail:fingerprint={known.error_fingerprint} -->" in issue.body


def test_502_after_create_is_adopted_on_retry(backend, bugbot_env):
    backend.fail_after_create(502)
    assert filing.handle_signal(error_signal()) == "created:retry"
    assert backend.creates == 1
    assert filing.retry_due() == {"adopted": 1}
    assert backend.creates == 1 and len(filed_issues(backend)) == 1
    assert [r.status for r in backend.requests_to("POST", "/repos/*/*/issues")] == [502]
    assert KnownIssue.objects.get().issue_number == filed_issues(backend)[0].number


def test_dropped_connection_after_create_is_adopted(backend):
    backend.drop_connection(method="POST", path="/repos/*/*/issues", after=True)
    assert filing.handle_signal(error_signal()) == "created:retry"
    assert filing.retry_due() == {"adopted": 1}
    assert backend.creates == 1


def test_adoption_falls_back_to_search_when_the_label_is_gone(backend, github_standin):
    backend.fail_after_create(502)
    filing.handle_signal(error_signal())
    number = filed_issues(backend)[0].number
    github_standin.pygithub().get_repo(backend.repo_name).get_issue(number).edit(labels=["triaged"])
    assert filing.retry_due() == {"adopted": 1}
    assert backend.creates == 1
    assert backend.requests_to("GET", "/search/issues")


def test_secondary_rate_limit_retry_after_is_honoured(backend):
    backend.secondary_rate_limit(retry_after=1, method="POST", path="/repos/*/*/issues")
    issue, _ = filing.record(csrf_signal())
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    assert filing.attempt(issue.pk, sleep=sleep) == "filed"
    assert slept == [1.0]
    assert [r.status for r in backend.requests_to("POST", "/repos/*/*/issues")] == [403, 201]
    assert backend.creates == 1


def test_rate_limit_beyond_the_cap_reschedules(backend):
    backend.primary_rate_limit(reset_in=600, method="POST", path="/repos/*/*/issues")
    assert filing.handle_signal(csrf_signal()) == "created:retry"
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.PENDING and issue.attempts == 0
    assert (issue.next_attempt_at - issue.updated_at).total_seconds() > 500
    assert backend.creates == 0


def test_bad_credentials_fail_for_good(backend):
    backend.bad_credentials(times=None)
    assert filing.handle_signal(csrf_signal()) == "created:failed"
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.FAILED and "401" in issue.last_error
    backend.clear_faults()
    services.retry_failed(issue)
    assert KnownIssue.objects.get().filing_state == Filing.FILED and backend.creates == 1


def test_github_down_then_back_files_every_pending_issue_once(backend):
    backend.fail(503, times=None)
    outcomes = [filing.handle_signal(error_signal(n)) for n in range(4)]
    assert outcomes == ["created:retry"] * 4 and backend.creates == 0
    assert filing.retry_due() == {"retry": 4}
    backend.clear_faults()
    assert filing.retry_due() == {"filed": 4}
    assert filing.retry_due() == {}
    titles = sorted(i.title.split(":")[0] for i in filed_issues(backend))
    assert titles == ["B-002", "B-003", "B-004", "B-005"] and backend.creates == 4


def test_github_down_with_the_create_landing_then_back(backend):
    backend.fail(502, times=None, method="POST", path="/repos/*/*/issues", after=True)
    for n in range(3):
        filing.handle_signal(error_signal(n))
    assert backend.creates == 3  # created on GitHub, every answer lost
    backend.clear_faults()
    assert filing.retry_due() == {"adopted": 3}
    assert backend.creates == 3 and len(filed_issues(backend)) == 3


def test_regression_reopens_the_same_issue_via_webhook_state(backend, bugbot_env):
    filing.handle_signal(error_signal())
    number = filed_issues(backend)[0].number
    backend.pygithub().get_repo(backend.repo_name).get_issue(number).edit(state="closed", state_reason="completed")
    body, headers = webhook.signed_delivery(SECRET, "issues", webhook.issues_event(backend, number, "closed"))
    response = Client().post("/errors/github/webhook/", body, content_type="application/json",
                             **webhook.django_headers(headers))
    assert response.status_code == 200
    known = KnownIssue.objects.get()
    assert known.status == "fixed"
    assert known_map.load(bugbot_env, Names()).exact[known.error_fingerprint].status == "fixed"
    assert filing.handle_signal(error_signal(regression=True, count=12)) == "regression:reopened"
    assert backend.issue(number).state == "open" and backend.creates == 1
    [comment] = backend.comments(number)
    assert "came back" in comment.body and "regression 1" in comment.body
    known.refresh_from_db()
    assert known.status == "open" and known.regression_count == 1


def test_sync_pulls_closed_and_reopened_states(backend):
    filing.handle_signal(error_signal())
    number = filed_issues(backend)[0].number
    repo = backend.pygithub().get_repo(backend.repo_name)
    repo.get_issue(number).edit(state="closed", state_reason="not_planned")
    from bugbot import scan

    assert scan.sync_issues()["changed"] == 1
    assert KnownIssue.objects.get().status == "wontfix"
    repo.get_issue(number).edit(state="open")
    assert scan.sync_issues()["changed"] == 1
    assert KnownIssue.objects.get().status == "open"


def test_staff_status_change_is_pushed_to_the_issue(backend, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    filing.handle_signal(error_signal())
    number = filed_issues(backend)[0].number
    services.update(KnownIssue.objects.get(), status="fixed")
    assert (backend.issue(number).state, backend.issue(number).state_reason) == ("closed", "completed")
    services.update(KnownIssue.objects.get(), status="open")
    assert backend.issue(number).state == "open"


def test_mark_known_by_issue_url_reads_the_bug_id(backend):
    existing = backend.add_issue("B-040: login loops", "reported by a user", ["bug"])
    url = f"https://github.com/{backend.repo_name}/issues/{existing.number}"
    issue = services.mark_known(error_signal().fingerprint, url, "Login is being fixed")
    assert (issue.bug_id, issue.issue_number) == ("B-040", existing.number)
    assert services.request_filing(csrf_signal()).bug_id == "B-041"


def test_caps_hold_a_burst_of_100_new_patterns(backend, bugbot_env):
    for n in range(100):
        bugbot_env.xadd(N.signals, {"e": codec.encode(error_signal(f"burst-{n}"))})
    consumer = loop.build("burst", block_ms=10)
    consumer.run(until_idle=True)
    assert backend.creates == 5
    assert KnownIssue.objects.filter(filing_state=Filing.FILED).count() == 5
    assert KnownIssue.objects.filter(filing_state=Filing.HELD).count() == 95
    assert bugbot_env.xpending(N.signals, "bugbot")["pending"] == 0
    entries = known_map.load(bugbot_env, Names())
    assert len(entries) == 100  # held ones are known too: users see "we're aware"
    assert filing.retry_due() == {}


SECRETS = ("hunter2-password", "sk_live_abcdefgh12345678", "4111 1111 1111 1111", "alice@example.com",
           "203.0.113.77", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl", "sessionid=abcdef123456",
           "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "csrftoken=Zx9Zx9Zx9Zx9Zx9")


def test_planted_secrets_never_reach_any_issue(backend):
    plants = [
        error_signal(
            "s1", exc_message=f"password={SECRETS[0]} key={SECRETS[1]} card {SECRETS[2]}",
            sample_request=f"POST /pay/ Cookie: {SECRETS[6]}; {SECRETS[8]} Authorization: Bearer {SECRETS[5]}",
            frames=[{"module": "shop.views", "function": "pay", "context": f"charge('{SECRETS[2]}')",
                     "vars": {"card": SECRETS[2], "email": SECRETS[3]}}], culprit="shop.views:pay"),
        csrf_signal("s2", path=f"/u/{SECRETS[3]}/", route=None,
                    sample_request=f"GET /x/?token={SECRETS[7]} from {SECRETS[4]}"),
        error_signal("s3", exc_type="ValueError", exc_message=f"user {SECRETS[3]} at {SECRETS[4]} sent {SECRETS[5]}"),
    ]
    for event in plants:
        filing.handle_signal(event)
    filing.handle_signal(error_signal("s3", regression=True))
    assert backend.creates == 3
    texts = [f"{i.title}\n{i.body}" for i in backend.issues()] + [c.body for c in backend.comments()]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert not re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", text)
        assert "@example.com" not in text


@pytest.fixture
def gh_only(backend, settings):
    if settings.ERRORTRAIL["BUG_BACKEND"] != "gh":
        pytest.skip("gh backend only")
    return backend


def test_gh_never_puts_the_token_on_its_command_line(gh_only, monkeypatch):
    import subprocess

    from bugbot.trackers import gh

    seen = []
    real = subprocess.run

    def run(cmd, **kwargs):
        seen.append((cmd, kwargs["env"]))
        return real(cmd, **kwargs)

    monkeypatch.setattr(filing.tracker(), "run", run)
    filing.handle_signal(error_signal(uuid.uuid4()))
    assert seen and all(gh_only.token not in " ".join(cmd) for cmd, _ in seen)
    assert all(env["GH_TOKEN"] == gh_only.token and "GITHUB_TOKEN" not in env for _, env in seen)
    assert gh.gh_environment({"GITHUB_API_URL": "https://api.github.com", "GITHUB_TOKEN": "t"})["GH_HOST"] == (
        "github.com")
    enterprise = gh.gh_environment({"GITHUB_API_URL": "https://ghe.example/api/v3", "GITHUB_TOKEN": "t"})
    assert (enterprise["GH_HOST"], enterprise["GH_ENTERPRISE_TOKEN"]) == ("ghe.example", "t")


@pytest.fixture
def pygithub_only(backend, settings):
    if settings.ERRORTRAIL["BUG_BACKEND"] != "github":
        pytest.skip("PyGithub backend only")
    return backend


def test_reads_are_retried_writes_are_not(pygithub_only):
    pygithub_only.fail(502, times=1, method="GET", path="/repos/*/*/issues")
    assert filing.tracker().find_existing("<!-- none -->", "none", None, search=False) is None
    assert [r.status for r in pygithub_only.requests_to("GET", "/repos/*/*/issues")] == [502, 200]
    pygithub_only.fail(502, times=1, method="POST", path="/repos/*/*/issues")
    with pytest.raises(TrackerError):
        filing.tracker().create("t", "b", [])
    assert [r.status for r in pygithub_only.requests_to("POST", "/repos/*/*/issues")] == [502]


def test_a_read_asked_to_wait_past_the_cap_is_not_slept(pygithub_only):
    pygithub_only.secondary_rate_limit(retry_after=3600, method="GET", path="/repos/*/*/issues")
    with pytest.raises(TrackerError) as err:
        filing.tracker().find_existing("<!-- none -->", "none", None, search=False)
    assert (err.value.kind, err.value.wait_s) == ("rate_limited", 3600.0)
