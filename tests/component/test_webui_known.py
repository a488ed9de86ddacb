"""Known issues: the list (filters, page views, pagination), one bug's page, edits, retries, new pattern issues."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bugbot import services
from bugbot.models import Filing, KnownIssue, Status
from contracts import known as known_map
from projector import conf
from tests.bugbot_support.factories import csrf_signal, error_signal
from tests.webui_support.factories import fingerprint
from tests.webui_support.fixtures import bugbot_env, staff_client, staff_user, webui_env  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def issues(webui_env):
    """Three known issues: a filed CSRF one, a failed 500 one, a pattern; plus page views in Redis."""
    csrf = services.mark_known(fingerprint("csrf"), "", "forms expire", event=csrf_signal("csrf-1"))
    crash = services.mark_known(fingerprint("crash"), "", "invoices", event=error_signal("crash-1", release="9.9"))
    KnownIssue.objects.filter(pk=crash.pk).update(filing_state=Filing.FAILED, last_error="GitHub said 502")
    KnownIssue.objects.filter(pk=csrf.pk).update(filing_state=Filing.FILED, status=Status.FIXED)
    pattern = services.create_pattern_issue("404", "/api/*", "the API is down")
    webui_env.hset(conf.names().known_views, mapping={csrf.bug_id: 7, pattern.bug_id: 2})
    return [KnownIssue.objects.get(pk=i.pk) for i in (csrf, crash, pattern)]


def listed(response) -> list[str]:
    return [issue.bug_id for issue in response.context["page"].object_list]


def test_known_list_shows_state_filing_and_page_views(issues, staff_client):
    csrf, crash, pattern = issues
    response = staff_client.get("/errors/known/")
    assert sorted(listed(response)) == sorted(i.bug_id for i in issues)
    html = response.content.decode()
    assert "GitHub said 502" in html
    assert response.context["views"] == {csrf.bug_id: 7, pattern.bug_id: 2}
    assert "404 on <code>/api/*</code>" in html


@pytest.mark.parametrize("query, which", [
    ("state=fixed", [0]), ("state=open", [1, 2]), ("filing=failed", [1]), ("cls=csrf", [0]),
    ("release=9.9", [1]), ("route=/api/", [2]), ("route=appointments", [0]), ("q=invoice", [1]),
    ("q=nothing-like-it", []),
])
def test_known_list_filters(issues, staff_client, query, which):
    response = staff_client.get("/errors/known/?" + query)
    assert sorted(listed(response)) == sorted(issues[i].bug_id for i in which)


def test_known_list_search_range_and_pagination(issues, staff_client):
    assert listed(staff_client.get(f"/errors/known/?q={issues[1].bug_id}")) == [issues[1].bug_id]
    KnownIssue.objects.filter(pk=issues[0].pk).update(created_at=timezone.now() - timedelta(days=40))
    assert issues[0].bug_id not in listed(staff_client.get("/errors/known/?range=30d"))
    assert issues[0].bug_id in listed(staff_client.get("/errors/known/?range=all"))
    for n in range(12):
        services.create_pattern_issue("404", f"/old/{n}/*")
    response = staff_client.get("/errors/known/?per_page=10&page=2")
    assert response.context["page"].paginator.count == 15 and len(listed(response)) == 5


def test_known_issue_page_edits_message_and_status(issues, staff_client, webui_env,
                                                   django_capture_on_commit_callbacks):
    crash = issues[1]
    response = staff_client.get(f"/errors/known/{crash.bug_id}/")
    assert response.context["items"][0]["retryable"]
    assert b"GitHub said 502" in response.content
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/errors/known/{crash.pk}/edit/", {"message": "Fixed in 1.5", "status": "fixed"},
                                     follow=True)
    crash.refresh_from_db()
    assert crash.friendly_message == "Fixed in 1.5" and crash.status == "fixed" and crash.fixed_at is not None
    assert any("saved" in m for m in messages_of(response))
    entry = known_map.load(webui_env, conf.names()).exact[crash.error_fingerprint]
    assert entry.status == "fixed" and entry.message == "Fixed in 1.5"


def test_known_issue_edit_refuses_bad_input(issues, staff_client):
    crash = issues[1]
    response = staff_client.post(f"/errors/known/{crash.pk}/edit/", {"message": "", "status": "deleted"}, follow=True)
    assert any("Not saved" in m and "status" in m for m in messages_of(response))
    assert KnownIssue.objects.get(pk=crash.pk).status == "open"


def test_retry_files_a_failed_issue_again(issues, staff_client, django_capture_on_commit_callbacks):
    crash = issues[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/errors/known/{crash.pk}/retry/", follow=True)
    assert any("will be filed again" in m for m in messages_of(response))
    assert KnownIssue.objects.get(pk=crash.pk).filing_state == Filing.FILED
    response = staff_client.post(f"/errors/known/{crash.pk}/retry/", follow=True)
    assert any("not failed or held" in m for m in messages_of(response))


def test_create_a_pattern_known_issue(webui_env, staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/errors/known/new/", {
            "error_type": "csrf", "url_glob": "/appointments/*", "message": "Booking forms expire; reload."},
            follow=True)
    issue = KnownIssue.objects.get(error_type="csrf")
    assert issue.url_glob == "/appointments/*" and issue.is_pattern and issue.created_by == "staff"
    assert response.redirect_chain[-1][0] == f"/errors/known/{issue.bug_id}/"
    entry = known_map.load(webui_env, conf.names()).match(fingerprint("any"), "csrf", "/appointments/4/book/")
    assert entry is not None and entry.message == "Booking forms expire; reload."


def test_create_a_pattern_and_file_it(webui_env, staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/errors/known/new/", {"error_type": "*", "url_glob": "/legacy/*", "file": "on"})
    assert KnownIssue.objects.get(url_glob="/legacy/*").filing_state == Filing.FILED


@pytest.mark.parametrize("data, why", [
    ({"error_type": "csrf", "url_glob": "appointments"}, "starts with /"),
    ({"error_type": "", "url_glob": "/x/*"}, "error_type"),
])
def test_create_pattern_refuses_bad_input(webui_env, staff_client, data, why):
    response = staff_client.post("/errors/known/new/", data, follow=True)
    assert any("Not created" in m and why in m for m in messages_of(response))
    assert not KnownIssue.objects.exists()


def test_create_pattern_with_a_bug_id_that_already_has_one_is_refused(issues, staff_client):
    response = staff_client.post("/errors/known/new/", {
        "error_type": "404", "url_glob": "/other/*", "bug_ref": issues[2].bug_id}, follow=True)
    assert any("already has a pattern" in m for m in messages_of(response))


def test_known_issue_page_lists_every_issue_under_one_bug_id(issues, staff_client):
    services.mark_known(fingerprint("second"), issues[1].bug_id, "")
    response = staff_client.get(f"/errors/known/{issues[1].bug_id}/")
    assert len(response.context["items"]) == 2
    assert not response.context["items"][0]["group"]
    assert b"no events stored" in response.content
