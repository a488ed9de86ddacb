"""End to end on real Redis: requests -> capture -> run_projector -> run_bugbot -> the GitHub stand-in -> pages."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from bugbot import bugids, filing, loop
from bugbot import connection as bugbot_connection
from bugbot.models import Filing, KnownIssue
from capture import publish
from contracts import known as known_map
from contracts.names import Names
from tests.github_standin import webhook
from tests.github_standin.fixtures import github_standin  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends,
              pytest.mark.urls("tests.bugbot_support.urls_site")]
SECRET = "e2e-webhook-secret"


@pytest.fixture
def site(real_redis, redis_url, github_standin, settings, tmp_path):
    """Capture, the projector and bugbot sharing one real Redis prefix and the test database."""
    client, prefix = real_redis
    settings.ERRORTRAIL = {
        **settings.ERRORTRAIL, "REDIS_URL": redis_url, "PREFIX": prefix, "SPOOL_DIR": str(tmp_path / "spool"),
        "BUG_BACKEND": "github", "GITHUB_API_URL": github_standin.url, "GITHUB_TOKEN": github_standin.token,
        "GITHUB_REPO": github_standin.repo_name, "GITHUB_THROTTLE": False, "GITHUB_WEBHOOK_SECRET": SECRET,
        "BLOCK_MS": 20, "PROJECTOR_BLOCK_MS": 20, "PROJECTOR_CLAIM_INTERVAL_S": 0.0, "PROJECTOR_HEARTBEAT_S": 0.5,
        "DASHBOARD_URL": "https://clinic.test/errors/",
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"
    publish.reset()
    bugbot_connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()
    yield client, Names(prefix=prefix)
    publish.reset()
    bugbot_connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()


def pipeline():
    """What the consumers would do by now: project the errors, then file what crossed the threshold."""
    call_command("run_projector", "--until-idle", "--consumer", "p1")
    loop.build("b1").run(until_idle=True)
    refresh_known()


def refresh_known():
    """What capture's background thread does within KNOWN_REFRESH_S: reload the known map if its version moved."""
    publisher = publish.get_publisher()
    publisher.known.refresh(publisher.flush_client, publisher.names)


def book(client):
    return client.post("/appointments/3/book/", {"name": "Rex", "password": "hunter2-form"})


def filed(standin):
    return [i for i in standin.issues() if i.number > 1]


def test_three_csrf_failures_file_b002_and_the_fourth_visitor_is_told(site, github_standin):
    visitor = Client(enforce_csrf_checks=True, raise_request_exception=False)
    for _ in range(3):
        assert book(visitor).status_code == 403
    pipeline()
    [issue] = filed(github_standin)
    assert issue.title == "B-002: CSRF failure on POST /appointments/<int:pk>/book/"
    known = KnownIssue.objects.get()
    assert (known.bug_id, known.filing_state, known.issue_number) == ("B-002", Filing.FILED, issue.number)
    page = book(visitor)
    assert page.status_code == 403
    text = page.content.decode()
    assert "B-002" in text and known.github_issue_url in text
    pipeline()
    assert github_standin.creates == 1  # the fourth failure is counted, never filed again


def test_three_server_errors_file_one_issue(site, github_standin):
    visitor = Client(raise_request_exception=False)
    for _ in range(3):
        assert visitor.get("/crash/?name=rex").status_code == 500
    pipeline()
    [issue] = filed(github_standin)
    assert re.fullmatch(r"B-002: KeyError in tests\.site\.views:crash", issue.title), issue.title
    assert "In-app frames" in issue.body and "tests/site/views.py" in issue.body
    assert "B-002" in visitor.get("/crash/?name=rex").content.decode()


def test_fifty_scanner_404s_file_nothing(site, github_standin):
    visitor = Client(raise_request_exception=False)
    for n in range(50):
        assert visitor.get(f"/wp-admin/setup-{n % 5}.php").status_code == 404
    pipeline()
    assert github_standin.creates == 0 and KnownIssue.objects.count() == 0


def test_closed_via_webhook_then_recurring_reopens_the_same_issue(site, github_standin):
    client, names = site
    visitor = Client(enforce_csrf_checks=True, raise_request_exception=False)
    for _ in range(3):
        book(visitor)
    pipeline()
    [issue] = filed(github_standin)
    repo = github_standin.pygithub().get_repo(github_standin.repo_name)
    repo.get_issue(issue.number).edit(state="closed", state_reason="completed")
    body, headers = webhook.signed_delivery(SECRET, "issues", webhook.issues_event(github_standin, issue.number,
                                                                                    "closed"))
    assert Client().post("/errors/github/webhook/", body, content_type="application/json",
                         **webhook.django_headers(headers)).status_code == 200
    entry = known_map.load(client, names).exact[KnownIssue.objects.get().error_fingerprint]
    assert entry.status == "fixed" and entry.fixed_at > 0
    refresh_known()
    for _ in range(3):
        assert "B-002" not in book(visitor).content.decode()  # fixed: the plain friendly page again
    pipeline()
    assert github_standin.creates == 1 and github_standin.issue(issue.number).state == "open"
    assert "came back" in github_standin.comments(issue.number)[0].body
    known = KnownIssue.objects.get()
    assert (known.status, known.regression_count) == ("open", 1)
    assert "B-002" in book(visitor).content.decode()


PLANTED = ("hunter2-form", "hunter2-header", "4111111111111111", "sessionid-planted-123", "alice@example.com",
           "Bearer-planted-token", "csrf-planted-value")


def test_secrets_planted_in_requests_never_reach_an_issue(site, github_standin):
    visitor = Client(raise_request_exception=False, enforce_csrf_checks=True)
    visitor.cookies["sessionid"] = PLANTED[3]
    visitor.cookies["csrftoken"] = PLANTED[6]
    for n in range(3):
        visitor.post(f"/crash/secret/?email={PLANTED[4]}&n={n}",
                     {"card_number": PLANTED[2], "password": PLANTED[0], "email": PLANTED[4]},
                     HTTP_AUTHORIZATION=f"Bearer {PLANTED[5]}", HTTP_X_API_PASSWORD=PLANTED[1])
        visitor.post("/appointments/3/book/", {"password": PLANTED[0], "card": PLANTED[2]},
                     HTTP_AUTHORIZATION=f"Bearer {PLANTED[5]}")
        visitor.get(f"/crash/?name={PLANTED[4]}", HTTP_COOKIE=f"sessionid={PLANTED[3]}")
    pipeline()
    assert github_standin.creates >= 2
    for issue in github_standin.issues():
        text = f"{issue.title}\n{issue.body}"
        for secret in PLANTED:
            assert secret not in text, (secret, issue.title)
        assert "127.0.0.1" not in text and "[Filtered]]" not in text
