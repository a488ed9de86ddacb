"""Stored XSS in a real headless Chromium: payloads in paths, user agents, referers, exception messages, form data,
frame locals, known-issue messages and URLs are rendered on EVERY dashboard page (enumerated from the URLconf), the
admin pages of the projections and the friendly error pages of the live site. No dialog opens, no CSP violation or
page error is reported, and no payload becomes an element, an event handler or a javascript: link.

Reuses tests/e2e/test_webui_browser.py's fixtures (Chromium, the live server on a fakeredis TCP server, a staff user).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import redis

from tests.component.test_hostile_dashboard import every_route
from tests.e2e.test_webui_browser import PASSWORD, browser, project, site, tcp_redis  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "javascript:alert(3)",
    "<svg onload=alert(4)>",
    "<svg><script>alert(5)</script></svg>",
    "'><svg/onload=alert(6)>",
    "</title><script>alert(7)</script>",
    '<iframe srcdoc="<script>alert(8)</script>">',
    "<a href=javascript:alert(9)>x</a>",
]
# What escaping broke would leave in the DOM, checked on every page beside the dialog and CSP listeners.
DOM_CHECK = """() => ({
    scripts: [...document.scripts].filter(s => s.textContent.includes('alert(')).length,
    handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
    jsLinks: [...document.querySelectorAll('a[href],iframe[src],form[action]')]
        .filter(e => (e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || '')
        .trim().toLowerCase().startsWith('javascript:')).length,
    frames: document.querySelectorAll('iframe,object,embed').length,
    injectedImages: document.querySelectorAll('img[src=x]').length,
})"""
CLEAN_DOM = {"scripts": 0, "handlers": 0, "jsLinks": 0, "frames": 0, "injectedImages": 0}


def plant(page, base: str, client: redis.Redis) -> None:
    """Hostile values through the live site (capture scrubs and bounds them, never escapes them) and the stream."""
    from contracts import codec
    from contracts.names import EVENT_FIELD
    from projector import conf
    from tests.webui_support.factories import event

    for n, payload in enumerate(PAYLOADS):
        headers = {"User-Agent": payload, "Referer": payload if n % 2 else f"{base}/from/{payload}"}
        page.request.get(f"{base}/nothing/{quote(payload)}/", headers=headers)
        page.request.get(f"{base}/crash/?name={quote(payload)}", headers=headers)
        page.request.post(f"{base}/appointments/{n}/book/", form={"when": payload, "note": payload}, headers=headers)
    names = conf.names()
    for n, payload in enumerate(PAYLOADS):
        hostile = event(f"locals-{n}", exc_type=payload[:200], exc_message=payload, culprit=payload,
                        release=payload[:100], user_name=payload[:150], route=payload, basis=payload, host=payload[:200],
                        frames=[{"module": payload, "function": payload, "filename": payload, "lineno": n,
                                 "context": payload, "vars": {payload[:60]: payload, "x": payload}}],
                        request={"headers": {"User-Agent": payload, "Referer": payload}, "query": {payload: payload},
                                 "form": {"note": payload}, "json": {"a": [payload]}, "body": payload})
        client.xadd(names.errors_for(hostile.fingerprint), {EVENT_FIELD: codec.encode(hostile)})
    client.xadd(names.errors(0), {EVENT_FIELD: PAYLOADS[0].encode()})  # a dead letter whose bytes are a payload


def know(base: str) -> list:
    """Known issues whose message, title, last error and issue URL are payloads; returns the live URLs they cover."""
    from bugbot import services
    from bugbot.models import KnownIssue
    from projector.models import ErrorGroup

    crash = ErrorGroup.objects.get(exc_type="KeyError")  # the /crash/ requests: one pattern, whatever the name
    issue = services.mark_known(crash.fingerprint, "", PAYLOADS[1] + PAYLOADS[3])
    pattern = services.mark_known(("404", "/nothing/*"), "", PAYLOADS[4] + PAYLOADS[8])
    KnownIssue.objects.filter(pk=issue.pk).update(github_issue_url=PAYLOADS[2], title=PAYLOADS[0],
                                                  last_error=PAYLOADS[6])
    KnownIssue.objects.filter(pk=pattern.pk).update(github_issue_url="javascript:alert(10)//https://x")
    return [f"{base}/crash/?name={quote(PAYLOADS[1])}", f"{base}/nothing/{quote(PAYLOADS[0])}/"]


def dashboard_urls(page, base: str) -> list[str]:
    """Every page of every enumerated GET route, for every group and known issue (hostile filters on the first)."""
    from bugbot.models import KnownIssue
    from capture.views import PAGES
    from django.urls import reverse
    from projector.models import ErrorGroup

    values = {"fingerprint": list(ErrorGroup.objects.values_list("fingerprint", flat=True)),
              "bug_id": list(KnownIssue.objects.values_list("bug_id", flat=True)),
              "pk": list(KnownIssue.objects.values_list("pk", flat=True)), "kind": list(PAGES)}
    filters = "?" + "&".join(f"{k}={quote(p)}" for k, p in zip(("q", "route", "release", "cls", "range", "page"),
                                                                PAYLOADS)) + "&known=1"
    urls = []
    for route in every_route():
        (arg,) = route.kwargs or (None,)
        assert arg is None or arg in values, f"{route.name}: no values for {arg}"
        paths = [reverse(route.name, kwargs={arg: value} if arg else {}) for value in values.get(arg, [None])]
        if route.name.endswith("github-webhook") or page.request.get(base + paths[0]).status == 405:
            continue  # an action (POST only): Chromium will not even show an empty 405
        urls += [base + p for p in paths] + [base + paths[0] + filters]
    admin = ["/admin/errortrail_projector/errorgroup/", "/admin/errortrail_projector/errorlog/",
             "/admin/errortrail_bugbot/knownissue/", f"/admin/errortrail_projector/errorgroup/?q={quote(PAYLOADS[0])}"]
    admin += [f"/admin/errortrail_projector/errorgroup/{pk}/change/"
              for pk in ErrorGroup.objects.values_list("pk", flat=True)[:3]]
    admin += [f"/admin/errortrail_bugbot/knownissue/{pk}/change/" for pk in values["pk"]]
    return urls + [base + a for a in admin]


def test_no_stored_payload_runs_on_any_page(browser, site, tcp_redis, django_user_model):  # noqa: F811
    from capture import publish

    django_user_model.objects.filter(username="staff").update(is_superuser=True)  # the admin pages too
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    dialogs, csp, errors = [], [], []
    page.on("dialog", lambda d: (dialogs.append((page.url, d.message)), d.dismiss()))
    page.on("console", lambda m: csp.append((page.url, m.text)) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append((page.url, str(e))))

    page.goto(site + "/admin/login/?next=/errors/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(site + "/errors/")

    client = redis.Redis.from_url(tcp_redis)
    plant(page, site, client)
    project(tcp_redis)
    live = know(site)
    assert publish.worker().wait_ticks(2, timeout_s=20)  # the live site's copy of the known map

    visited = shown = 0
    for url in dashboard_urls(page, site) + live:
        response = page.goto(url)
        expected = (404, 500) if url in live else (200,)
        assert response.status in expected, (url, response.status)
        visited += 1
        assert page.evaluate(DOM_CHECK) == CLEAN_DOM, url
        shown += any(p in page.inner_text("body") for p in PAYLOADS)
    for url, payload in zip(live, (PAYLOADS[1], PAYLOADS[4])):  # "We're aware" pages quote the hostile message
        page.goto(url)
        assert "aware of this problem" in page.content() and payload in page.inner_text("body"), url
    assert visited >= 60 and shown >= 30, (visited, shown)
    assert dialogs == [] and csp == [] and errors == []
    client.close()
    context.close()

