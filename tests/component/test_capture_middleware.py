"""The capture middleware through Django's test client: every status and path, each observed exactly once."""

from __future__ import annotations

import re

import pytest
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.test import Client

from contracts import codec, fingerprint

STREAM = "errortrail:errors"
XADD_ROUND_TRIP = ["XADD", "GET"]
KNOWN_LOAD = ["MULTI", "GET", "HGETALL", "EXEC"]


def stream_events(redis, stream=STREAM):
    return [codec.decode(fields[b"e"]) for _, fields in redis.xrange(stream)]


def only_event(site):
    events = stream_events(site.redis)
    assert len(events) == 1, events
    return events[0]


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def test_healthy_request_makes_no_redis_call(capture_site, client):
    for path in ("/", "/pets/7/", "/?password=x"):
        assert client.get(path).status_code == 200
    assert capture_site.trips.take() == []
    assert capture_site.redis.exists(STREAM) == 0


def test_an_error_costs_one_pipelined_round_trip(capture_site, client):
    client.get("/nope/")
    # The process's first error page loads the known-issue map once (no background thread in tests).
    assert capture_site.trips.take() == [KNOWN_LOAD, XADD_ROUND_TRIP]
    for path in ("/nope/", "/crash/", "/denied/"):
        client.get(path)
        assert capture_site.trips.take() == [XADD_ROUND_TRIP], path
    assert capture_site.redis.xlen(STREAM) == 4


def test_the_xadd_is_capped_approximately(capture_site, client):
    client.get("/nope/")
    (xadd,) = [args for args in capture_site.trips.commands if args[0] == "XADD"]
    assert xadd[:5] == ["XADD", STREAM, "MAXLEN", "~", "1000000"]


ERROR_CASES = [
    # path, extra request kwargs, status, class, error type, route
    ("/nope/", {}, 404, "not_found", "404", None),
    ("/pets/101/", {}, 404, "not_found", "404", "pets/<int:pk>/"),
    ("/pets/101/", {"HTTP_REFERER": "http://testserver/pets/"}, 404, "broken_link", "404", "pets/<int:pk>/"),
    ("/pets/101/", {"HTTP_REFERER": "https://elsewhere.example/"}, 404, "not_found", "404", "pets/<int:pk>/"),
    ("/wp-login.php", {}, 404, "probe", "404", None),
    ("/wp-admin/setup-config", {}, 404, "probe", "404", None),
    ("/.env", {}, 404, "probe", "404", None),
    ("/cgi-bin/test", {}, 404, "probe", "404", None),
    ("/index.php", {}, 404, "probe", "404", None),
    ("/nope/", {"HTTP_USER_AGENT": "sqlmap/1.7.2#stable (https://sqlmap.org)"}, 404, "probe", "404", None),
    ("/", {"HTTP_HOST": "attacker.example"}, 400, "probe", "400", None),
    ("/denied/", {}, 403, "permission", "403", "denied/"),
    ("/suspicious/", {}, 400, "client_error", "400", "suspicious/"),
    ("/teapot/", {}, 418, "client_error", "418", "teapot/"),
    ("/upstream/", {}, 503, "app_error", "503", "upstream/"),
    ("/crash/", {}, 500, "app_error", "500", "crash/"),
]


@pytest.mark.parametrize(("path", "extra", "status", "cls", "error_type", "route"), ERROR_CASES)
def test_every_error_is_observed_once(capture_site, client, path, extra, status, cls, error_type, route):
    response = client.get(path, **extra)
    assert response.status_code == status
    event = only_event(capture_site)
    assert (event.status, event.cls, event.error_type, event.route) == (status, cls, error_type, route)
    assert event.path == path
    assert event.method == "GET"
    assert response["X-Error-Reference"] == event.id
    assert (event.release, event.environment, event.weight) == ("tests", "test", 1)
    assert len(event.fingerprint) == 64
    assert event.fingerprint == fingerprint.fingerprint(event.basis)


def test_an_unhandled_exception_carries_type_culprit_and_in_app_frames(capture_site, client):
    client.get("/crash/?name=rex")
    event = only_event(capture_site)
    assert event.exc_type == "KeyError"
    assert event.exc_message == "'missing-rex'"
    assert event.culprit == "tests.site.views:crash"
    assert [(f["module"], f["function"]) for f in event.frames] == [("tests.site.views", "crash")]
    assert "pets" in event.frames[0]["vars"]
    assert event.basis.startswith("v1|exc|5xx|KeyError|culprit=tests.site.views:crash|frames=tests.site.views:crash|")


def test_a_view_returning_its_own_error_keeps_its_response(capture_site, client):
    response = client.get("/teapot/")
    assert response.content == b"I'm a teapot"
    response = client.get("/upstream/")
    assert response.content == b"upstream failed"
    events = stream_events(capture_site.redis)
    assert [(e.status, e.exc_type) for e in events] == [(418, None), (503, None)]


def test_the_same_pattern_on_other_ids_shares_a_fingerprint(capture_site, client):
    client.get("/pets/101/")
    client.get("/pets/202/")
    client.get("/crash/other/")
    a, b, other = stream_events(capture_site.redis)
    assert a.fingerprint == b.fingerprint != other.fingerprint


def test_a_client_that_re_raises_still_gets_one_event(capture_site):
    with pytest.raises(KeyError):
        Client().get("/crash/")
    assert len(stream_events(capture_site.redis)) == 1


# -- CSRF: a real CsrfViewMiddleware rejection --


def _token():
    return _mask_cipher_secret(_get_new_csrf_string())


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


def _with_cookie(client):
    client.cookies["csrftoken"] = _token()
    return client


CSRF_CASES = {
    "no_cookie": lambda c: c.post("/appointments/3/book/", {"note": "hi"}),
    "token_missing": lambda c: _with_cookie(c).post("/appointments/3/book/", {"note": "hi"}),
    "token_incorrect": lambda c: _with_cookie(c).post("/appointments/3/book/", {"csrfmiddlewaretoken": _token()}),
    "bad_origin": lambda c: c.post("/appointments/3/book/", {}, HTTP_ORIGIN="https://evil.example"),
}


@pytest.mark.parametrize("kind", sorted(CSRF_CASES))
def test_csrf_failures_are_observed_with_their_kind(capture_site, csrf_client, kind):
    response = CSRF_CASES[kind](csrf_client)
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    event = only_event(capture_site)
    assert (event.cls, event.error_type, event.csrf_kind, event.status) == ("csrf", "csrf", kind, 403)
    assert f"csrf={kind}" in event.basis
    assert response["X-Error-Reference"] == event.id


def test_a_csrf_fingerprint_does_not_vary_with_the_rejected_origin(capture_site, csrf_client):
    for origin in ("https://evil.example", "http://other.test:8080", "null"):
        csrf_client.post("/appointments/3/book/", {}, HTTP_ORIGIN=origin)
    events = stream_events(capture_site.redis)
    assert [e.csrf_kind for e in events] == ["bad_origin"] * 3
    assert len({e.fingerprint for e in events}) == 1
    assert all("evil" not in e.basis and "other.test" not in e.basis for e in events)


def test_the_csrf_token_never_reaches_the_event(capture_site, csrf_client):
    token = _token()
    csrf_client.cookies["csrftoken"] = _token()
    csrf_client.post("/appointments/3/book/", {"csrfmiddlewaretoken": token, "note": "hi"}, HTTP_X_CSRFTOKEN=token)
    raw = capture_site.redis.xrange(STREAM)[0][1][b"e"]
    assert token.encode() not in raw
    assert only_event(capture_site).request["form"] == {"csrfmiddlewaretoken": "[Filtered]", "note": "hi"}


# -- DEBUG on: Django's technical pages stay, capture still records --


def test_debug_keeps_technical_pages_and_still_records(capture_site, client, csrf_client, settings):
    settings.DEBUG = True
    not_found = client.get("/pets/101/")
    crash = client.get("/crash/")
    denied = client.get("/denied/")
    csrf = csrf_client.post("/appointments/3/book/", {})
    assert not_found.status_code == 404 and b"DEBUG = True" in not_found.content
    assert crash.status_code == 500 and b"Traceback" in crash.content
    assert denied.status_code == 403 and b"403 Forbidden" in denied.content
    assert csrf.status_code == 403 and b"CSRF verification failed" in csrf.content
    events = stream_events(capture_site.redis)
    assert [(e.cls, e.status) for e in events] == [("not_found", 404), ("app_error", 500), ("permission", 403), ("csrf", 403)]
    assert events[1].exc_type == "KeyError"
    assert events[3].csrf_kind == "no_cookie"


@pytest.mark.parametrize(
    ("path", "extra", "status", "title"),
    [
        ("/nope/", {}, 404, b"We can&#x27;t find that page"),
        ("/pets/101/", {}, 404, b"We can&#x27;t find that page"),
        ("/crash/", {}, 500, b"Something went wrong"),
        ("/denied/", {}, 403, b"You don&#x27;t have access to this page"),
        ("/suspicious/", {}, 400, b"That request didn&#x27;t work"),
        ("/", {"HTTP_HOST": "attacker.example"}, 400, b"That request didn&#x27;t work"),
    ],
)
def test_friendly_in_debug_serves_friendly_pages(capture_site, client, settings, path, extra, status, title):
    settings.DEBUG = True
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "FRIENDLY_IN_DEBUG": True}
    response = client.get(path, **extra)
    assert response.status_code == status
    assert title in response.content
    assert b"Traceback" not in response.content
    event = only_event(capture_site)
    assert f"Reference: <code>{event.id}</code>".encode() in response.content


def test_friendly_in_debug_keeps_a_view_s_own_error_response(capture_site, client, settings):
    settings.DEBUG = True
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "FRIENDLY_IN_DEBUG": True}
    assert client.get("/teapot/").content == b"I'm a teapot"
    assert client.get("/upstream/").content == b"upstream failed"


def test_friendly_in_debug_csrf_page(capture_site, csrf_client, settings):
    settings.DEBUG = True
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "FRIENDLY_IN_DEBUG": True}
    response = csrf_client.post("/appointments/3/book/", {})
    assert b"This form has expired" in response.content


# -- switched off, and capture's own failures --


def test_monitoring_disabled_by_environment(capture_site, client, monkeypatch):
    from capture import conf

    monkeypatch.setenv("ERROR_MONITORING_ENABLED", "false")
    conf.get.cache_clear()
    try:
        response = client.get("/crash/")
        assert response.status_code == 500
        assert b"Something went wrong" in response.content
        assert b"Reference" not in response.content
        assert "X-Error-Reference" not in response
        assert client.get("/nope/").status_code == 404
        assert capture_site.trips.take() == []
        assert capture_site.redis.exists(STREAM) == 0
    finally:
        monkeypatch.delenv("ERROR_MONITORING_ENABLED")
        conf.get.cache_clear()


def test_an_internal_error_is_logged_counted_and_never_raised(capture_site, client, settings, monkeypatch, caplog):
    from capture import middleware, publish

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REPORT_INTERNAL_ERRORS": False}

    def broken(*args, **kwargs):
        raise RuntimeError("bug in capture")

    monkeypatch.setattr(middleware, "to_event", broken)
    response = client.get("/nope/")
    assert response.status_code == 404
    assert b"We can&#x27;t find that page" in response.content
    assert "errortrail could not report an error response" in caplog.text
    publish.get_publisher().tick()
    assert capture_site.redis.hget("errortrail:capture:drops", "internal") == b"1"
    assert capture_site.redis.exists(STREAM) == 0


def test_an_internal_error_in_a_friendly_view_falls_back_to_plain_html(capture_site, client, settings, monkeypatch):
    from capture import middleware, publish

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REPORT_INTERNAL_ERRORS": False}

    def broken(*args, **kwargs):
        raise RuntimeError("bug in capture")

    monkeypatch.setattr(middleware, "observe", broken)
    monkeypatch.setattr("capture.views.loader.get_template", broken)
    response = client.get("/crash/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content and b'href="/"' in response.content
    publish.get_publisher().tick()
    # the view's observe, the page render and the middleware's report each failed once
    assert capture_site.redis.hget("errortrail:capture:drops", "internal") == b"3"


def test_internal_errors_fail_tests_when_reporting_is_on(capture_site, monkeypatch):
    from capture import middleware

    def broken(*args, **kwargs):
        raise RuntimeError("bug in capture")

    monkeypatch.setattr(middleware, "to_event", broken)
    with pytest.raises(RuntimeError, match="bug in capture"):
        Client().get("/nope/")


def test_broken_settings_never_break_the_site(capture_site, client, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SHARDS": "many"}
    response = client.get("/nope/")
    assert response.status_code == 404
    assert re.search(rb"We can&#x27;t find that page", response.content)


def close_response(response):
    """Close a response as the test client does (without the database check request_finished triggers)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_response_is_reported_once_even_if_the_middleware_runs_twice(capture_site, rf):
    from django.http import HttpResponse

    from capture.middleware import ErrorCaptureMiddleware

    inner = ErrorCaptureMiddleware(lambda request: HttpResponse(status=404))
    outer = ErrorCaptureMiddleware(inner)
    response = outer(rf.get("/twice/"))
    assert response.status_code == 404
    assert stream_events(capture_site.redis) == []  # delivered when the server closes the response
    close_response(response)
    assert len(stream_events(capture_site.redis)) == 1


def test_the_event_is_delivered_after_the_response_is_built(capture_site, rf):
    from django.http import HttpResponse

    from capture.middleware import ErrorCaptureMiddleware

    closed = []
    response = HttpResponse(status=500)
    response._resource_closers.append(lambda: closed.append(len(stream_events(capture_site.redis))))
    answered = ErrorCaptureMiddleware(lambda request: response)(rf.get("/late/"))
    assert answered is response
    assert ["XADD", "GET"] not in capture_site.trips.take()  # only the process's first load of the known map
    close_response(response)
    # Django's own closers run after the event went out, in exactly one round trip.
    assert closed == [1] and capture_site.trips.take() == [["XADD", "GET"]]


def test_a_failure_at_startup_is_logged_not_raised(capture_site, monkeypatch, caplog):
    from capture import middleware

    monkeypatch.setattr(middleware, "get_publisher", lambda: 1 / 0)
    middleware.ErrorCaptureMiddleware(lambda request: None)
    assert "errortrail could not start" in caplog.text
