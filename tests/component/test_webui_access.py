"""Every dashboard page and action: anonymous -> login, non-staff -> friendly 403, staff -> page; CSRF; CSP."""

from __future__ import annotations

import pytest
from django.test import Client

from projector.models import ErrorGroup
from tests.webui_support.fixtures import (  # noqa: F401
    bugbot_env, plain_user, staff_client, staff_user, webui_env, world,
)
from tests.webui_support.html import csp_problems

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def pages(w) -> list[str]:
    """Every GET page of the dashboard for the world fixture."""
    fp = w.crash.fingerprint
    return [
        "/errors/", "/errors/?range=7d", "/errors/?range=30d&cls=app_error", "/errors/patterns/",
        f"/errors/patterns/{fp}/", f"/errors/patterns/{fp}/?range=30d", f"/errors/patterns/{fp}/file/",
        "/errors/known/", f"/errors/known/{w.issue.bug_id}/", "/errors/dead/",
        "/errors/api/series/", "/errors/api/top/", "/errors/api/health/",
    ]


def actions(w) -> list[tuple[str, dict]]:
    """Every POST action with a valid form."""
    fp = w.crash.fingerprint
    return [
        (f"/errors/patterns/{fp}/known/", {"bug_ref": "", "message": "hello"}),
        (f"/errors/patterns/{fp}/file/", {}),
        (f"/errors/patterns/{fp}/state/", {"action": "ignore"}),
        ("/errors/known/new/", {"error_type": "csrf", "url_glob": "/appointments/*", "message": "m"}),
        (f"/errors/known/{w.issue.pk}/edit/", {"message": "edited", "status": "open"}),
        (f"/errors/known/{w.issue.pk}/retry/", {}),
        ("/errors/dead/requeue/", {"dead_key": w.dead_key, "entry_id": w.dead_id}),
        ("/errors/dead/discard/", {"dead_key": w.dead_key, "entry_id": w.dead_id}),
    ]


def test_anonymous_users_are_sent_to_the_login_page(client, world):
    for url in pages(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next=/errors/"), url
    for url, data in actions(world):
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    assert ErrorGroup.objects.get(pk=world.crash.pk).state == "unresolved"


def test_signed_in_non_staff_get_the_friendly_403(client, plain_user, world):
    client.force_login(plain_user)
    for url in pages(world):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"have access to this page" in response.content, url
    for url, data in actions(world):
        assert client.post(url, data).status_code == 403, url
    assert ErrorGroup.objects.get(pk=world.crash.pk).state == "unresolved"


def test_inactive_staff_are_refused(client, staff_user, world):
    staff_user.is_active = False
    staff_user.save()
    client.force_login(staff_user)  # a session made before the account was disabled
    assert client.get("/errors/").status_code in (302, 403)


def test_staff_see_every_page_with_a_strict_csp_and_nothing_it_would_block(staff_client, world):
    for url in pages(world):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert "default-src 'self'" in response["Content-Security-Policy"], url
        assert response["Cache-Control"] == "private, no-store", url
        if response["Content-Type"].startswith("text/html"):
            assert csp_problems(response.content.decode()) == [], url


def test_every_action_is_a_post_answered_with_a_redirect(staff_client, world):
    for url, data in actions(world):
        assert staff_client.get(url).status_code == (200 if url.endswith("/file/") else 405), url
        response = staff_client.post(url, data)
        assert response.status_code == 302, (url, response.content[:300])


def test_csrf_is_enforced_on_every_action(staff_user, world):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)
    for url, data in actions(world):
        response = csrf_client.post(url, data)
        assert response.status_code == 403, url
        assert b"This form has expired" in response.content, url
    assert ErrorGroup.objects.get(pk=world.crash.pk).state == "unresolved"
    assert world.redis.xlen(world.dead_key) == 1
    # With the token from a page the action goes through.
    csrf_client.get(f"/errors/patterns/{world.crash.fingerprint}/")
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(f"/errors/patterns/{world.crash.fingerprint}/state/",
                                {"action": "ignore", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert ErrorGroup.objects.get(pk=world.crash.pk).state == "ignored"


def test_the_github_webhook_is_mounted_under_the_dashboard_without_the_staff_check(client, world):
    response = client.post("/errors/github/webhook/", b"{}", content_type="application/json")
    assert response.status_code == 403  # bugbot's own check: unsigned deliveries are refused
    assert b"signature" in response.content


def test_unknown_patterns_and_known_issues_are_404(staff_client, world):
    for url in ["/errors/patterns/nothex/", f"/errors/patterns/{'0' * 64}/", "/errors/known/B-999/",
                "/errors/known/not-a-bug/", "/errors/known/999999/edit/"]:
        method = staff_client.post if url.endswith("/edit/") else staff_client.get
        assert method(url).status_code == 404, url
