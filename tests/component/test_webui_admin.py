"""Django admin: ErrorLog and ErrorGroup read-only with fixed-choice filters and search; KnownIssue edits via bugbot."""

from __future__ import annotations

import pytest

from bugbot import services
from bugbot.models import KnownIssue
from projector.models import ErrorGroup, ErrorLog
from tests.webui_support.factories import event, fingerprint, now_ms, project
from tests.webui_support.fixtures import bugbot_env, webui_env  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


@pytest.fixture
def data(webui_env):
    project(webui_env, [event("a", ts=now_ms()), event("b", cls="csrf", ts=now_ms(), status=403),
                        event("c", cls="not_found", ts=now_ms() - 3 * 86_400_000)])
    return services.mark_known(fingerprint("a"), "", "hello")


@pytest.mark.parametrize("url, expect", [
    ("/admin/errortrail_projector/errorgroup/", 3),
    ("/admin/errortrail_projector/errorgroup/?cls=csrf", 1),
    ("/admin/errortrail_projector/errorgroup/?state=unresolved&within=1d", 2),
    ("/admin/errortrail_projector/errorgroup/?q=Pattern", None),
    ("/admin/errortrail_projector/errorlog/", 3),
    ("/admin/errortrail_projector/errorlog/?status_class=4", 2),
    ("/admin/errortrail_projector/errorlog/?status_class=5&within=7d", 1),
    ("/admin/errortrail_projector/errorlog/?within=1d&cls=not_found", 0),
    ("/admin/errortrail_bugbot/knownissue/?status=open", 1),
])
def test_changelists_filter_and_search(admin_client, data, url, expect):
    response = admin_client.get(url)
    assert response.status_code == 200, url
    if expect is not None:
        assert response.context["cl"].result_count == expect, url


def test_search_by_fingerprint_and_event_id(admin_client, data):
    log = ErrorLog.objects.first()
    response = admin_client.get("/admin/errortrail_projector/errorlog/", {"q": log.event_id})
    assert response.context["cl"].result_count == 1
    response = admin_client.get("/admin/errortrail_projector/errorgroup/", {"q": fingerprint("b")})
    assert response.context["cl"].result_count == 1


def test_projections_are_read_only(admin_client, data):
    group = ErrorGroup.objects.first()
    response = admin_client.get(f"/admin/errortrail_projector/errorgroup/{group.pk}/change/")
    assert response.status_code == 200 and b'name="_save"' not in response.content
    assert admin_client.post(f"/admin/errortrail_projector/errorgroup/{group.pk}/change/",
                             {"title": "changed"}).status_code == 403
    assert admin_client.get("/admin/errortrail_projector/errorlog/add/").status_code == 403
    assert admin_client.post(f"/admin/errortrail_projector/errorgroup/{group.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert ErrorGroup.objects.get(pk=group.pk).title == group.title
    log = ErrorLog.objects.first()
    assert admin_client.get(f"/admin/errortrail_projector/errorlog/{log.pk}/change/").status_code == 200


def test_known_issue_admin_edits_message_and_status_through_bugbot(admin_client, data):
    url = f"/admin/errortrail_bugbot/knownissue/{data.pk}/change/"
    response = admin_client.get(url)
    assert response.status_code == 200 and b'name="friendly_message"' in response.content
    assert b'name="bug_id"' not in response.content  # read-only
    response = admin_client.post(url, {"friendly_message": "fixed soon", "status": "fixed"})
    assert response.status_code == 302
    issue = KnownIssue.objects.get(pk=data.pk)
    assert issue.friendly_message == "fixed soon" and issue.status == "fixed" and issue.fixed_at is not None
    assert admin_client.get("/admin/errortrail_bugbot/knownissue/add/").status_code == 403
