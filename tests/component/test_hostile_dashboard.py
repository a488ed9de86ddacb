"""Dashboard and webhook security over EVERY URL pattern of webui.urls (and capture.urls), enumerated from the
URLconf so a new page is covered without touching this file: anonymous users go to the login page, non-staff get
the friendly 403, staff get the page; every POST without a CSRF token is refused and changes nothing; the GitHub
webhook refuses unsigned, mis-signed and replayed deliveries and changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from tests.webui_support.fixtures import (  # noqa: F401
    bugbot_env, plain_user, staff_client, staff_user, webui_env, world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.backends]
WEBHOOK = "webui:bugbot:github-webhook"
SECRET = "hostile-webhook-secret"


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: tuple[str, ...]


def routes(patterns, namespace: str) -> list[Route]:
    """Every named pattern under a URLconf's patterns, with its namespaced name and URL keyword arguments."""
    out = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
            out += [Route(r.name, tuple(sorted({*r.kwargs, *entry.pattern.converters})))
                    for r in routes(entry.url_patterns, inner)]
        elif isinstance(entry, URLPattern):
            assert entry.name, f"unnamed dashboard URL {entry.pattern}: name it so tests and templates can reach it"
            out.append(Route(f"{namespace}:{entry.name}", tuple(sorted(entry.pattern.converters))))
    return out


def every_route() -> list[Route]:
    import capture.urls
    import webui.urls

    return routes(webui.urls.urlpatterns, "webui") + routes(capture.urls.urlpatterns, "errortrail_capture")


def url_of(route: Route, w) -> str:
    values = {"fingerprint": w.crash.fingerprint, "bug_id": w.issue.bug_id, "pk": w.issue.pk, "kind": "server_error"}
    missing = set(route.kwargs) - set(values)
    assert not missing, f"{route.name}: no test value for URL argument(s) {missing}: add one to url_of()"
    return reverse(route.name, kwargs={k: values[k] for k in route.kwargs})


def test_the_enumeration_finds_every_known_page():
    names = {r.name for r in every_route()}
    assert {"webui:overview", "webui:pattern", "webui:known-list", "webui:dead", "webui:dead-discard",
            "webui:api-health", WEBHOOK, "errortrail_capture:preview"} <= names
    assert len(names) == len(every_route()) >= 19


def snapshot(w) -> tuple:
    """Everything a refused request must leave as it was: projector and bugbot rows, Redis keys and values."""
    from django.apps import apps

    models = [m for m in apps.get_models() if m.__module__.split(".")[0] in ("projector", "bugbot")]
    assert len(models) >= 7
    rows = tuple(sorted(repr(list(model.objects.order_by("pk").values())) for model in models))
    keys = {}
    for key in sorted(w.redis.keys("*")):
        kind = w.redis.type(key)
        keys[key] = (w.redis.xrange(key) if kind == b"stream" else w.redis.hgetall(key) if kind == b"hash"
                     else w.redis.get(key) if kind == b"string" else kind)
    return rows, tuple(keys.items())


@pytest.fixture
def site(world, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_REPO": "o/r"}
    return world


def test_anonymous_users_are_sent_to_the_login_page_and_change_nothing(client, site):
    before = snapshot(site)
    for route in every_route():
        url = url_of(route, site)
        for method in (client.get, client.post):
            response = method(url)
            if route.name == WEBHOOK:
                assert response.status_code in (403, 405), url  # bugbot's own check: a signature, not a login
                continue
            refused = (302, 405) if route.name.startswith("webui:") else (403, 405)  # capture's preview: no login
            assert response.status_code in refused, (route.name, method.__name__, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/admin/login/?next="), url
    assert snapshot(site) == before


def test_signed_in_non_staff_get_the_friendly_403_and_change_nothing(client, plain_user, site):
    client.force_login(plain_user)
    before = snapshot(site)
    for route in (r for r in every_route() if r.name != WEBHOOK):
        url = url_of(route, site)
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (403, 405), (route.name, method.__name__, response.status_code)
            if response.status_code == 403:
                assert b"have access to this page" in response.content, url
    assert snapshot(site) == before


def test_staff_reach_every_page_and_every_page_carries_the_strict_headers(staff_client, site):
    posts = 0
    for route in (r for r in every_route() if r.name != WEBHOOK):
        url = url_of(route, site)
        response = staff_client.get(url)
        assert response.status_code in (200, 405), (route.name, response.status_code)
        posts += response.status_code == 405
        if route.name.startswith("webui:") and response.status_code == 200:
            assert "default-src 'self'" in response["Content-Security-Policy"], url
            assert "frame-ancestors 'none'" in response["Content-Security-Policy"], url
            assert response["Cache-Control"] == "private, no-store", url
    assert posts >= 6  # the actions answer GET with 405: they are POST only


def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(staff_user, site):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    strict.get(reverse("webui:overview"))  # a CSRF cookie, but no token in the forms below
    forms = {"action": "ignore", "message": "m", "status": "fixed", "bug_ref": "B-001", "error_type": "csrf",
             "url_glob": "/*", "dead_key": site.dead_key, "entry_id": site.dead_id, "confirm": "1"}
    before = snapshot(site)
    for route in every_route():
        url = url_of(route, site)
        response = strict.post(url, forms)
        if route.name == WEBHOOK:
            assert response.status_code == 403 and b"signature" in response.content
            continue
        assert response.status_code == 403, (route.name, response.status_code)
        assert b"This form has expired" in response.content, url
        bad_token = strict.post(url, {**forms, "csrfmiddlewaretoken": "x" * 64}, HTTP_X_CSRFTOKEN="y" * 32)
        assert bad_token.status_code == 403, url
    assert snapshot(site) == before


# -- the webhook -------------------------------------------------------------------------------------------------


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(client, body: bytes, signature: str | None, delivery_id: str | None = None, **extra):
    delivery_id = str(uuid.uuid4()) if delivery_id is None else delivery_id
    headers = {"HTTP_X_GITHUB_EVENT": "issues", "HTTP_X_GITHUB_DELIVERY": delivery_id, **extra}
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(reverse(WEBHOOK), body, content_type="application/json", **headers)


def closing(number: int, reason: str = "completed") -> bytes:
    return json.dumps({"action": "closed", "issue": {"number": number, "state_reason": reason},
                       "repository": {"full_name": "o/r"}}).encode()


@pytest.fixture
def filed(site):
    from bugbot.models import KnownIssue

    KnownIssue.objects.filter(pk=site.issue.pk).update(issue_number=7, backend="github", filing_state="filed")
    return site


def hostile_signatures(body: bytes) -> list:
    good = sign(body)
    return [None, "", " ", "sha256=", good.upper(), good.replace("sha256=", "SHA256="), good[:-1],
            good + "0", f"{good}, {good}", "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest(),
            sign(body, ""), sign(body, SECRET + " "), sign(body + b" "), "sha256=" + "é" * 64, "x" * 100_000,
            sign(b""), sign(body)[:7] + "0" * 64]


def test_unsigned_mis_signed_or_oddly_signed_deliveries_are_refused_and_change_nothing(client, filed):
    body = closing(7)
    before = snapshot(filed)
    for signature in hostile_signatures(body):
        assert delivery(client, body, signature).status_code == 403, signature and signature[:40]
    assert snapshot(filed) == before
    assert delivery(client, body, sign(body)).status_code == 200  # the same body, signed: accepted
    assert snapshot(filed) != before


def test_a_replayed_delivery_id_changes_nothing_even_with_another_signed_body(client, filed):
    from bugbot.models import KnownIssue, ProcessedDelivery

    first = str(uuid.uuid4())
    assert delivery(client, closing(7), sign(closing(7)), first).json()["outcome"] == "fixed:1"
    before = snapshot(filed)
    reopening = {"action": "reopened", "issue": {"number": 7}, "repository": {"full_name": "o/r"}}
    for body in (closing(7), closing(7, "not_planned"), json.dumps(reopening).encode()):
        replay = delivery(client, body, sign(body), first)
        assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert snapshot(filed) == before
    assert KnownIssue.objects.get(pk=filed.issue.pk).status == "fixed" and ProcessedDelivery.objects.count() == 1


@pytest.mark.parametrize("delivery_id, status", [("", 400), (" ", 400), ("d" * 65, 400),
                                                 ("<script>alert(1)</script>", 200), ("é" * 64, 200)])
def test_odd_delivery_ids(client, filed, delivery_id, status):
    body = closing(7)
    response = delivery(client, body, sign(body), delivery_id)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"


def test_a_huge_unsigned_body_is_refused(client, filed):
    before = snapshot(filed)
    body = b"{" + b'"a": 1, ' * 400_000 + b'"b": 2}'
    response = delivery(client, body, "sha256=" + "0" * 64)
    assert response.status_code in (400, 403)
    assert snapshot(filed) == before
