"""The async middleware path under ASGI (django.test.AsyncClient) records the same events as WSGI."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient, Client

from capture.middleware import ErrorCaptureMiddleware
from contracts import codec

STREAM = "errortrail:errors"


def stream_events(redis):
    return [codec.decode(fields[b"e"]) for _, fields in redis.xrange(STREAM)]


async def _requests(client):
    responses = [
        await client.get("/"),
        await client.get("/pets/101/", headers={"referer": "http://testserver/pets/"}),
        await client.get("/crash/"),
        await client.get("/denied/"),
        await client.get("/upstream/"),
        await client.get("/wp-login.php"),
    ]
    csrf = AsyncClient(enforce_csrf_checks=True, raise_request_exception=False)
    responses.append(await csrf.post("/appointments/3/book/", {"password": "asgi-secret-pw"}))
    return responses


EXPECTED = [
    ("broken_link", 404, None),
    ("app_error", 500, None),
    ("permission", 403, None),
    ("app_error", 503, None),
    ("probe", 404, None),
    ("csrf", 403, "no_cookie"),
]


def test_asgi_records_every_error_once(capture_site):
    responses = asyncio.run(_requests(AsyncClient(raise_request_exception=False)))
    assert [r.status_code for r in responses] == [200, 404, 500, 403, 503, 404, 403]
    events = stream_events(capture_site.redis)
    assert [(e.cls, e.status, e.csrf_kind) for e in events] == EXPECTED
    assert [r["X-Error-Reference"] for r in responses[1:]] == [e.id for e in events]
    assert events[1].exc_type == "KeyError" and events[1].culprit == "tests.site.views:crash"
    assert b"asgi-secret-pw" not in capture_site.redis.xrange(STREAM)[-1][1][b"e"]
    assert b"Something went wrong" in responses[2].content


def test_asgi_and_wsgi_agree(capture_site):
    asyncio.run(_requests(AsyncClient(raise_request_exception=False)))
    via_asgi = stream_events(capture_site.redis)
    capture_site.redis.delete(STREAM)
    client = Client(raise_request_exception=False)
    client.get("/pets/101/", HTTP_REFERER="http://testserver/pets/")
    client.get("/crash/")
    client.get("/denied/")
    client.get("/upstream/")
    client.get("/wp-login.php")
    Client(enforce_csrf_checks=True, raise_request_exception=False).post("/appointments/3/book/", {})
    via_wsgi = stream_events(capture_site.redis)
    assert [(e.fingerprint, e.cls, e.route) for e in via_asgi] == [(e.fingerprint, e.cls, e.route) for e in via_wsgi]


def test_a_healthy_asgi_request_makes_no_redis_call(capture_site):
    async def healthy():
        client = AsyncClient()
        return [(await client.get(path)).status_code for path in ("/", "/pets/3/")]

    assert asyncio.run(healthy()) == [200, 200]
    assert capture_site.trips.take() == []


def test_the_middleware_adapts_to_an_async_chain(capture_site):
    async def inner(request):
        from django.http import HttpResponse

        return HttpResponse(status=204)

    middleware = ErrorCaptureMiddleware(inner)
    assert asyncio.iscoroutinefunction(middleware)
    assert not asyncio.iscoroutinefunction(ErrorCaptureMiddleware(lambda request: None))


@pytest.mark.parametrize("debug", [False, True])
def test_asgi_crash_under_debug_settings(capture_site, settings, debug):
    settings.DEBUG = debug

    async def crash():
        return await AsyncClient(raise_request_exception=False).get("/crash/")

    response = asyncio.run(crash())
    assert response.status_code == 500
    assert (b"Traceback" in response.content) is debug
    (event,) = stream_events(capture_site.redis)
    assert event.exc_type == "KeyError"
