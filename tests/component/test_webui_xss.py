"""Stored XSS: hostile paths, user agents, exception messages, frames, users, releases, known issues, dead letters
and consumer names render as text on every page; nothing in any page needs an inline script or style."""

from __future__ import annotations

import json

import pytest

from bugbot import services
from bugbot.models import KnownIssue
from contracts.names import EVENT_FIELD
from projector import conf
from projector.models import ErrorGroup
from tests.webui_support.factories import event, fingerprint, now_ms, project
from tests.webui_support.fixtures import bugbot_env, staff_client, staff_user, webui_env  # noqa: F401
from tests.webui_support.html import csp_problems, tags

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    "javascript:alert(4)",
    "</textarea><iframe src=//evil.test>",
]
RAW_MARKERS = ["<script>alert", "<img src=x", "<svg onload", "<iframe src=//evil"]


@pytest.fixture
def hostile(webui_env, django_capture_on_commit_callbacks):
    p = PAYLOADS
    now = now_ms()
    project(webui_env, [
        event("msg", ts=now, exc_message=p[0] + p[1], release=p[2][:100], user_name=p[1],
              frames=[{"module": "app." + p[2][:50], "function": p[0], "filename": p[1], "lineno": 3,
                       "context": p[4], "vars": {p[1][:30]: p[0]}}],
              request={"headers": {"User-Agent": p[0]}, "query": {"q": p[1]}}, basis="v1|" + p[1]),
        event("path", ts=now, cls="not_found", path="/" + p[1] + "/", route=None, url="http://site.test/" + p[3],
              request={"headers": {"User-Agent": p[2]}}),
    ])
    names = conf.names()
    with django_capture_on_commit_callbacks(execute=True):
        issue = services.mark_known(fingerprint("msg"), "", p[1] + p[4])
        services.mark_known(("404", "/" + p[0] + "*"), "", p[2])
    KnownIssue.objects.filter(pk=issue.pk).update(github_issue_url=p[3], last_error=p[0], title=p[1])
    webui_env.xadd(names.dead(0), {EVENT_FIELD: b"\xc1", "reason": p[0] + p[1], "id": "1-0", "stream": "x"})
    webui_env.hset(names.heartbeat("projector", p[1]), mapping={"role": "projector", "consumer": p[1], "state": p[0],
                                                                "updated_ms": now, "last_error": p[2]})
    webui_env.hset(names.drops, p[0], 1)
    webui_env.hset(names.scan_state, mapping={"bugbot:last_run_ms": now,
                                              "bugbot:last_result": json.dumps({p[1]: {"error": p[0]}})})
    return issue


def pages(issue) -> list[str]:
    out = ["/errors/", "/errors/?range=30d", "/errors/patterns/", "/errors/known/", f"/errors/known/{issue.bug_id}/",
           "/errors/dead/", "/errors/?q=" + PAYLOADS[0], "/errors/known/?route=" + PAYLOADS[1],
           "/errors/dead/?release=" + PAYLOADS[2]]
    for group in ErrorGroup.objects.all():
        out += [f"/errors/patterns/{group.fingerprint}/", f"/errors/patterns/{group.fingerprint}/file/",
                f"/errors/patterns/{group.fingerprint}/?release=" + PAYLOADS[1]]
    return out


def test_payloads_render_as_text_on_every_page(hostile, staff_client):
    seen_escaped = set()
    for url in pages(hostile):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for marker in RAW_MARKERS:
            assert marker not in html, (url, marker)
        assert csp_problems(html) == [], url
        assert all(not (a.get("href") or "").startswith("javascript:") for a in tags(html, "a")), url
        seen_escaped.update(p for p in ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;",
                                        "&lt;svg onload=alert(3)&gt;") if p in html)
    assert len(seen_escaped) == 3  # the payloads were there, as text


def test_a_flash_message_quoting_a_payload_is_escaped(hostile, staff_client):
    group = ErrorGroup.objects.get(fingerprint=fingerprint("path"))
    response = staff_client.post(f"/errors/patterns/{group.fingerprint}/known/", {"bug_ref": PAYLOADS[0]}, follow=True)
    html = response.content.decode()
    assert "Not marked" in html and "<script>alert" not in html


def test_the_api_is_json_that_browsers_will_not_sniff(hostile, staff_client):
    for url in ("/errors/api/top/", "/errors/api/health/", "/errors/api/series/"):
        response = staff_client.get(url)
        assert response["Content-Type"] == "application/json" and response["X-Content-Type-Options"] == "nosniff"
