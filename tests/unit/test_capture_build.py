"""Request and exception to event (pure): odd locals, odd exceptions, odd requests never break capture."""

from __future__ import annotations

import sys

import pytest
from django.test import RequestFactory

from capture import conf
from capture import frames as frames_module
from capture.build import host_of, observe, request_data, scrubber, to_event
from capture.frames import exception_details
from contracts import codec

RF = RequestFactory()


def cfg():
    return conf.get()


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


class BrokenStr(Exception):
    def __str__(self):
        raise RuntimeError("no str")


def _crash_with_odd_locals():
    name = "rex"  # noqa: F841
    odd = BrokenRepr()  # noqa: F841
    raise ValueError("odd locals")


def _exc(function, *args):
    try:
        function(*args)
    except Exception:
        return sys.exc_info()


def test_odd_frame_locals():
    _, _, _, frames = exception_details(_exc(_crash_with_odd_locals), None, cfg(), scrubber(cfg()))
    variables = frames[-1]["vars"]
    assert variables["name"] == "rex"
    assert variables["odd"].startswith("<BrokenRepr instance at 0x")


def test_frame_variables_that_cannot_be_read(monkeypatch):
    def broken(*args):
        raise RuntimeError("filter failed")

    monkeypatch.setattr(frames_module._FILTER, "get_traceback_frame_variables", broken)
    _, _, _, frames = exception_details(_exc(_crash_with_odd_locals), None, cfg(), scrubber(cfg()))
    assert frames[-1]["vars"] == {"[error]": "variables unavailable"}


def _raise_broken_str():
    raise BrokenStr()


def test_an_exception_that_cannot_be_printed():
    type_name, message, _, _ = exception_details(_exc(_raise_broken_str), None, cfg(), scrubber(cfg()))
    assert type_name.endswith("BrokenStr") and message == "<unprintable exception>"


def test_without_in_app_frames_the_culprit_is_the_innermost_frame(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "IN_APP_EXCLUDE": ("tests", "json")}
    import json

    exc_info = _exc(json.loads, "{")
    _, _, culprit, frames = exception_details(exc_info, None, cfg(), scrubber(cfg()))
    assert frames == [] and culprit.startswith("json.decoder:")


def test_frame_variables_can_be_switched_off(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "FRAME_VARS": False}
    _, _, _, frames = exception_details(_exc(_crash_with_odd_locals), None, cfg(), scrubber(cfg()))
    assert "vars" not in frames[-1]


def test_a_host_that_cannot_be_read():
    request = RF.get("/")
    request._get_raw_host = lambda: 1 / 0
    assert host_of(request) == (None, False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("testserver", ("testserver", False)),
        ("TestServer:8000", ("TestServer:8000", False)),
        ("site.test:443", ("site.test:443", False)),
        ("evil.example", ("evil.example", True)),
        ("testserver:80x", ("testserver:80x", True)),
        ("testserver.evil.example", ("testserver.evil.example", True)),
    ],
)
def test_the_host_is_checked_against_allowed_hosts_like_django_does(host, expected):
    request = RF.get("/", HTTP_HOST=host)
    assert host_of(request) == expected


def test_a_body_already_consumed_as_a_stream():
    request = RF.post("/x/", "a=1", content_type="application/x-www-form-urlencoded")
    request.read()
    _, data = request_data(request, cfg(), scrubber(cfg()))
    assert data["body"] == "[Omitted: body already consumed as a stream]"


def test_a_body_the_view_already_read_is_still_capped(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_BODY_BYTES": 4}
    request = RF.post("/x/", '{"a": 1}', content_type="application/json")
    request.body  # the view read it
    _, data = request_data(request, cfg(), scrubber(cfg()))
    assert data["body"] == "[Omitted: 8 bytes over the 4 byte limit]"


def test_a_query_string_given_as_bytes():
    request = RF.get("/x/")
    request.META["QUERY_STRING"] = b"token=abc&q=caf\xe9"
    url, data = request_data(request, cfg(), scrubber(cfg()))
    assert data["query"] == {"token": "[Filtered]", "q": "café"}


def test_a_user_that_cannot_be_read_is_left_out():
    class User:
        is_authenticated = True

        @property
        def pk(self):
            raise RuntimeError("detached")

    request = RF.get("/x/")
    request.user = User()
    event = to_event(observe(request, 404, cfg()), request, cfg())
    assert (event.user_id, event.user_name) == (None, None)
    codec.encode(event)


def test_no_exception_is_being_handled():
    assert frames_module.current_exc_info() is None


@pytest.mark.parametrize("remote", ["", "10.0.0.1"])
def test_the_client_hash_never_holds_the_address(remote):
    request = RF.get("/x/", REMOTE_ADDR=remote)
    event = to_event(observe(request, 404, cfg()), request, cfg())
    if remote:
        assert len(event.client) == 24 and remote not in codec.encode(event).decode("latin-1")
    else:
        assert event.client is None
