"""A pattern's page and its actions: why grouped, samples, known issue, mark known, file from preview, triage."""

from __future__ import annotations

import pytest

from bugbot import services
from bugbot.models import Filing, KnownIssue
from contracts import known as known_map
from projector import conf
from projector.models import ErrorGroup, ErrorLog
from tests.webui_support.factories import HOUR_MS, event, fingerprint, now_ms, project
from tests.webui_support.fixtures import bugbot_env, staff_client, staff_user, webui_env  # noqa: F401
from webui import crossing

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


@pytest.fixture
def crash(webui_env):
    now = now_ms()
    project(webui_env, [event("crash", ts=now - (11 - i) * 61_000, release="r2" if i % 2 else "r1",
                              path=f"/things/{i}/", request={"headers": {"User-Agent": f"agent-{i}"}})
                        for i in range(12)])
    return ErrorGroup.objects.get(fingerprint=fingerprint("crash"))


def url(group: ErrorGroup, tail: str = "") -> str:
    return f"/errors/patterns/{group.fingerprint}/{tail}"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_pattern_page_shows_why_grouped_samples_and_chart(crash, staff_client):
    response = staff_client.get(url(crash))
    html = response.content.decode()
    assert crash.basis in html
    assert crash.fingerprint in html
    assert "KeyError" in html and "&#x27;missing crash&#x27;" in html
    assert "app.views:view_crash" in html and "app/views.py:10" in html
    assert "x = d[&#x27;k&#x27;]" in html  # frame context
    assert "&quot;User-Agent&quot;: &quot;agent-11&quot;" in html  # scrubbed request data as JSON text
    assert "alice" in html
    assert response.context["chart"].total == 12
    samples = [s["log"] for s in response.context["samples"]]
    assert len(samples) == 10 and samples[0].timestamp >= samples[-1].timestamp
    assert response.context["page"].paginator.count == 12
    assert response.context["actions"] == ("ignore", "resolve")
    assert "Not a known issue" in html


def test_samples_filter_by_release_path_and_range_and_paginate(crash, staff_client):
    assert len(staff_client.get(url(crash) + "?page=2").context["samples"]) == 2
    assert staff_client.get(url(crash) + "?release=r2").context["page"].paginator.count == 6
    assert staff_client.get(url(crash) + "?route=/things/1").context["page"].paginator.count == 3  # 1, 10, 11
    ErrorLog.objects.filter(group=crash).update(timestamp=crash.last_seen.replace(year=2020))
    assert staff_client.get(url(crash)).context["page"].paginator.count == 12  # no range given: every sample
    assert staff_client.get(url(crash) + "?range=30d").context["page"].paginator.count == 0


def test_mark_known_publishes_the_known_map(crash, staff_client, webui_env, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url(crash, "known/"), {"bug_ref": "", "message": "Invoices fail; fix soon."},
                                     follow=True)
    issue = KnownIssue.objects.get(error_fingerprint=crash.fingerprint)
    assert issue.friendly_message == "Invoices fail; fix soon."
    assert issue.event["fingerprint"] == crash.fingerprint and issue.title.startswith(issue.bug_id)
    assert any(f"Marked as known issue {issue.bug_id}" in m for m in messages_of(response))
    entry = known_map.load(webui_env, conf.names()).match(crash.fingerprint, "500", "/things/1/")
    assert entry is not None and entry.bug_id == issue.bug_id
    html = response.content.decode()
    assert issue.bug_id in html and "Invoices fail; fix soon." in html
    assert response.context["views_known"] and response.context["views"] == 0


def test_mark_known_links_an_existing_bug_by_id_or_url(crash, staff_client):
    other = services.mark_known(fingerprint("elsewhere"), "", "")
    staff_client.post(url(crash, "known/"), {"bug_ref": other.bug_id.lower(), "message": ""})
    assert KnownIssue.objects.get(error_fingerprint=crash.fingerprint).bug_id == other.bug_id
    response = staff_client.post(url(crash, "known/"), {
        "bug_ref": "https://github.com/acme/site/issues/77", "message": "m"}, follow=True)
    issue = KnownIssue.objects.get(error_fingerprint=crash.fingerprint)
    assert issue.github_issue_url == "https://github.com/acme/site/issues/77"
    assert issue.filing_state == Filing.FILED
    assert 'href="https://github.com/acme/site/issues/77"' in response.content.decode()


def test_mark_known_refuses_bad_references_and_long_messages(crash, staff_client):
    response = staff_client.post(url(crash, "known/"), {"bug_ref": "see ticket 12", "message": ""}, follow=True)
    assert any("Not marked" in m and "neither a bug id" in m for m in messages_of(response))
    response = staff_client.post(url(crash, "known/"), {"bug_ref": "", "message": "x" * 1001}, follow=True)
    assert any("Not marked" in m for m in messages_of(response))
    assert not KnownIssue.objects.exists()


def test_file_a_bug_shows_the_exact_issue_then_files_it(crash, staff_client, django_capture_on_commit_callbacks):
    response = staff_client.get(url(crash, "file/"))
    expected_title, expected_body = services.preview(crossing.event_for(crash))
    assert response.context["title"] == expected_title
    assert response.context["body"].split("errortrail:fingerprint=")[0] == expected_body.split(
        "errortrail:fingerprint=")[0]
    assert expected_title.startswith("B-") and "KeyError" in expected_title
    assert "Sample request" in response.content.decode()
    assert response.context["backend"] == "local"
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url(crash, "file/"), follow=True)
    issue = KnownIssue.objects.get(error_fingerprint=crash.fingerprint)
    assert issue.title == expected_title
    assert issue.filing_state == Filing.FILED  # eager Celery, local backend
    assert issue.created_by == "staff"
    assert any(f"{issue.bug_id} is being filed" in m for m in messages_of(response))
    response = staff_client.post(url(crash, "file/"), follow=True)
    assert any("already filed" in m for m in messages_of(response))
    assert KnownIssue.objects.count() == 1
    response = staff_client.get(url(crash, "file/"))
    assert b"already filed as" in response.content


def test_file_a_bug_for_a_pattern_a_known_issue_covers_records_its_own(crash, staff_client):
    services.mark_known(("500", "/things/*"), "", "all things")
    assert staff_client.get(url(crash)).context["issue"].is_pattern
    staff_client.post(url(crash, "file/"))
    assert KnownIssue.objects.filter(error_fingerprint=crash.fingerprint).exists()


def test_the_event_bugbot_gets_carries_the_groups_figures(crash):
    ev = crossing.event_for(crash)
    assert ev.fingerprint == crash.fingerprint and ev.count == 12 and ev.title == crash.title
    assert ev.exc_type == "KeyError" and ev.frames and not ev.regression
    assert ev.sample_event_id == ErrorLog.objects.filter(group=crash).order_by("-timestamp").first().event_id
    assert "agent-11" in ev.sample_request
    assert ev.first_seen <= ev.last_seen and ev.threshold == conf.get()["THRESHOLD"]


@pytest.mark.parametrize("action, state", [("ignore", "ignored"), ("resolve", "resolved")])
def test_triage_actions_set_the_state_and_reopen_undoes_them(crash, staff_client, action, state):
    response = staff_client.post(url(crash, "state/"), {"action": action}, follow=True)
    assert ErrorGroup.objects.get(pk=crash.pk).state == state
    assert ErrorGroup.objects.get(pk=crash.pk).state_changed_at is not None
    assert any(f"Pattern marked {state}" in m for m in messages_of(response))
    assert "reopen" in response.context["actions"]
    response = staff_client.post(url(crash, "state/"), {"action": action}, follow=True)
    assert any("Nothing changed" in m for m in messages_of(response))
    staff_client.post(url(crash, "state/"), {"action": "reopen"})
    assert ErrorGroup.objects.get(pk=crash.pk).state == "unresolved"


def test_unknown_triage_action_is_refused(crash, staff_client):
    response = staff_client.post(url(crash, "state/"), {"action": "delete"}, follow=True)
    assert any("Unknown action" in m for m in messages_of(response))
    assert ErrorGroup.objects.get(pk=crash.pk).state == "unresolved"


def test_a_resolved_pattern_that_recurs_is_unresolved_by_the_projector(crash, staff_client, webui_env):
    staff_client.post(url(crash, "state/"), {"action": "resolve"})
    project(webui_env, [event("crash", ts=now_ms() + HOUR_MS)])
    assert ErrorGroup.objects.get(pk=crash.pk).state == "unresolved"


def test_group_state_service_refuses_unknown_states_and_actions(crash):
    from projector import services as group_services

    with pytest.raises(ValueError):
        group_services.set_state(crash.pk, "deleted")
    with pytest.raises(ValueError):
        group_services.apply_action(crash.pk, "delete")


def test_a_fixed_pattern_known_issue_still_shows_on_the_pattern_page(crash, staff_client, webui_env):
    issue = services.mark_known(("*", "/things/*"), "", "")
    KnownIssue.objects.filter(pk=issue.pk).update(status="fixed")
    webui_env.hset(conf.names().known_views, issue.bug_id, "not a number")
    response = staff_client.get(url(crash))
    assert response.context["issue"].pk == issue.pk and response.context["views"] == 0
    services.mark_known(("404", "/elsewhere/*"), "", "")  # an open pattern that does not cover it
    assert staff_client.get(url(crash)).context["issue"].pk == issue.pk
