import pytest
from django.test import Client

from contracts import codec


def events(fake_redis, stream="errortrail:errors"):
    return [codec.decode(fields[b"e"]) for _, fields in fake_redis.xrange(stream)]


def test_flow(capture_env, fake_redis):
    c = Client(raise_request_exception=False)
    assert c.get("/").status_code == 200
    assert fake_redis.xlen("errortrail:errors") == 0
    r = c.get("/pets/101/")
    assert r.status_code == 404, r.content
    r = c.get("/crash/")
    assert r.status_code == 500
    print(r.content.decode())
    r = Client(enforce_csrf_checks=True, raise_request_exception=False).post("/appointments/3/book/", {"password": "x"})
    assert r.status_code == 403
    evs = events(fake_redis)
    for e in evs:
        print(e)
    assert [e.cls for e in evs] == ["not_found", "app_error", "csrf"]
