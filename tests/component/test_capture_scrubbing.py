"""Scrubbing and bounds through the whole request path: nothing secret reaches the stream."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from contracts import codec
from contracts.events import MAX_EVENT_BYTES

STREAM = "errortrail:errors"
F = "[Filtered]"
CARD = "4111111111111111"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqd3Qtc3ViamVjdCJ9.c2lnbmF0dXJlLXZhbHVlLWp3dA"


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def entries(site):
    return [(fields[b"e"], codec.decode(fields[b"e"])) for _, fields in site.redis.xrange(STREAM)]


def only(site, *secrets):
    """The single event, after checking no secret occurs anywhere in its encoded bytes."""
    ((raw, event),) = entries(site)
    for secret in secrets:
        assert secret.encode() not in raw, secret
    return event


def test_form_fields(capture_site, client):
    client.post("/crash/form/", {
        "password": "pw-form-secret", "card_number": CARD, "new_password2": "pw-confirm-secret",
        "name": "Rex", "note": "call with Bearer bearer-form-secret", "ref": CARD,
    })
    event = only(capture_site, "pw-form-secret", "pw-confirm-secret", "bearer-form-secret", CARD)
    assert event.request["form"] == {
        "password": F, "card_number": F, "new_password2": F, "name": "Rex", "note": f"call with Bearer {F}", "ref": F,
    }


def form_post(client, path, data):
    return client.post(path, urlencode(data), content_type="application/x-www-form-urlencoded")


def test_form_fields_of_a_body_the_view_never_read(capture_site, client):
    form_post(client, "/crash/", {"api_key": "key-unread-secret", "species": "cat"})
    event = only(capture_site, "key-unread-secret")
    assert event.request["form"] == {"api_key": F, "species": "cat"}


def test_json_bodies(capture_site, client):
    body = {
        "owner": {"name": "Ann", "Password": "pw-json-secret", "tokens": ["t1-json-secret"]},
        "items": [{"api_key": "key-json-secret", "qty": 2}, {"note": f"paid with {CARD}"}],
        "auth": {"anything": "auth-json-secret"},
        "comment": JWT,
    }
    client.post("/crash/", json.dumps(body), content_type="application/json")
    event = only(capture_site, "pw-json-secret", "t1-json-secret", "key-json-secret", "auth-json-secret", CARD, JWT[:40])
    assert event.request["json"] == {
        "owner": {"name": "Ann", "Password": F, "tokens": F},
        "items": [{"api_key": F, "qty": 2}, {"note": f"paid with {F}"}],
        "auth": F,
        "comment": F,
    }


def test_query_strings(capture_site, client):
    client.get(f"/nope/?access_token=tok-query-secret&page=2&q={JWT}&SessionId=sess-query-secret&cc={CARD}")
    event = only(capture_site, "tok-query-secret", "sess-query-secret", JWT[:40], CARD)
    assert event.request["query"] == {"access_token": F, "page": "2", "q": F, "SessionId": F, "cc": F}
    assert event.url == "/nope/?access_token=[Filtered]&page=2&q=[Filtered]&SessionId=[Filtered]&cc=[Filtered]"


def test_headers_by_allowlist(capture_site, client):
    client.get(
        "/nope/",
        HTTP_COOKIE="sessionid=cookie-header-secret; csrftoken=csrf-cookie-secret",
        HTTP_AUTHORIZATION="Basic YXV0aC1oZWFkZXItc2VjcmV0",
        HTTP_X_API_KEY="custom-header-secret",
        HTTP_USER_AGENT="Mozilla/5.0 (pets)",
        HTTP_ACCEPT_LANGUAGE="en",
        HTTP_REFERER="https://ann:referer-pw-secret@testserver/pets/?token=referer-token-secret&tab=1",
    )
    event = only(
        capture_site, "cookie-header-secret", "csrf-cookie-secret", "YXV0aC1oZWFkZXItc2VjcmV0",
        "custom-header-secret", "referer-pw-secret", "referer-token-secret",
    )
    assert event.request["headers"] == {
        "User-Agent": "Mozilla/5.0 (pets)",
        "Accept-Language": "en",
        "Referer": "https://testserver/pets/?token=[Filtered]&tab=1",
    }


def test_exception_messages(capture_site, client):
    client.get("/crash/locals/")
    event = only(capture_site, "message-token-value", "4111 1111 1111 1111")
    assert event.exc_message == f"token={F} rejected for card {F}"


def test_frame_locals(capture_site, client):
    client.get("/crash/locals/?api_token=query-local-secret&page=1", HTTP_COOKIE="sessionid=meta-cookie-secret",
               HTTP_AUTHORIZATION="Bearer meta-auth-secret")
    event = only(capture_site, "locals-password-value", "locals-bearer-value", "query-local-secret",
                 "meta-cookie-secret", "meta-auth-secret")
    (frame,) = event.frames
    assert frame["function"] == "crash_with_locals"
    assert frame["vars"]["request"] == "<WSGIRequest: GET '/crash/locals/'>"
    assert "[Filtered]" in frame["vars"]["creds"] and "password" in frame["vars"]["creds"]


def test_sensitive_variables(capture_site, client):
    client.post("/crash/secret/", {"card_number": "5500005555555559"})
    event = only(capture_site, "hunter2-local-variable", "5500005555555559")
    (frame,) = event.frames
    assert frame["vars"]["card_number"] == F
    assert frame["vars"]["api_password"] == F
    assert event.request["form"]["card_number"] == F


def test_sensitive_post_parameters(capture_site, client):
    form_post(client, "/crash/post/", {"pin": "9731", "pet": "Rex"})
    assert only(capture_site, "9731").request["form"] == {"pin": F, "pet": "Rex"}


def test_sensitive_post_parameters_for_every_field(capture_site, client):
    form_post(client, "/crash/post-all/", {"pin": "9731", "pet": "unlisted-pet-name"})
    assert only(capture_site, "9731", "unlisted-pet-name").request["body"] == F


def test_bodies_over_the_cap_are_not_read(capture_site, client):
    client.post("/crash/", json.dumps({"note": "x" * 9000}), content_type="application/json")
    event = only(capture_site)
    assert event.request["body"].startswith("[Omitted: 9") and "8192 byte limit" in event.request["body"]


def test_the_body_cap_is_configurable(capture_site, client, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_BODY_BYTES": 10}
    client.post("/crash/", json.dumps({"note": "long enough"}), content_type="application/json")
    assert "10 byte limit" in only(capture_site).request["body"]


def test_multipart_uploads_are_never_read(capture_site, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x-ray.png", b"\x89PNG" + b"\0" * 100, content_type="image/png")
    client.post("/crash/", {"scan": upload, "password": "multipart-secret"})
    event = only(capture_site, "multipart-secret")
    assert event.request["body"] == "[Omitted: multipart upload not read]"


def test_multipart_the_view_parsed_lists_file_names_only(capture_site, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x-ray.png", b"\x89PNG-file-content-secret", content_type="image/png")
    client.post("/crash/form/", {"scan": upload, "password": "multipart-secret", "pet": "Rex"})
    event = only(capture_site, "multipart-secret", "file-content-secret")
    assert event.request["form"] == {"password": F, "pet": "Rex"}
    assert event.request["files"] == [{"field": "scan", "name": "x-ray.png", "size": 24}]


def test_non_utf8_path_query_and_body(capture_site, client):
    client.get("/caf%E9/?q=%FF%FE&name=caf%C3%A9")
    client.post("/crash/", b"\xff\xfe\x00binary", content_type="text/plain")
    client.post("/crash/", b"note=%FF%FE", content_type="application/x-www-form-urlencoded")
    client.post("/crash/", b"{\"a\": \"\xff\"}", content_type="application/json")  # 10 bytes
    not_found, text, form, bad_json = (event for _, event in entries(capture_site))
    assert not_found.status == 404 and not_found.path == "/caf%E9/"
    assert not_found.request["query"] == {"q": "\ufffd\ufffd", "name": "café"}
    assert text.request["body"] == "[Binary: 9 bytes]"
    assert form.request["form"] == {"note": "\ufffd\ufffd"}
    assert bad_json.request["body"] == "[Binary: 10 bytes]"


def test_huge_forms_are_bounded(capture_site, client):
    fields = {f"field{i}": "v" * 2000 for i in range(900)}
    client.post("/crash/form/", fields)
    ((raw, event),) = entries(capture_site)
    assert len(raw) < MAX_EVENT_BYTES
    form = event.request["form"]
    assert len(form) == 51 and form["[Truncated]"] == "850 more keys"
    assert all(len(v) == 1024 for k, v in form.items() if k != "[Truncated]")


def test_deep_json_is_bounded(capture_site, client):
    deep = {}
    node = deep
    for _ in range(300):
        node["child"] = {}
        node = node["child"]
    client.post("/crash/", json.dumps(deep), content_type="application/json")
    event = only(capture_site)
    depth, node = 0, event.request["json"]
    while isinstance(node, dict):
        node, depth = node["child"], depth + 1
    assert node == "[Truncated: too deep]" and depth == 5


def test_long_query_strings_and_paths_are_bounded(capture_site, client):
    client.get("/" + "a" * 5000 + "/?" + "&".join(f"k{i}={i}" for i in range(300)))
    client.get("/nope/?" + "&".join(f"k{i}={'v' * 3000}" for i in range(300)))
    (_, event), (_, long_values) = entries(capture_site)
    assert len(long_values.url) <= 4096 and len(long_values.request["query"]) == 3
    assert len(event.path) == 2048 and event.path.endswith("a…") and len(event.url) <= 4096
    assert len(event.request["query"]) == 51 and event.request["query"]["[Truncated]"] == "250 more keys"


def test_deep_stacks_keep_the_innermost_frames(capture_site, client):
    client.get("/crash/deep/")
    event = only(capture_site)
    assert len(event.frames) == 30
    assert event.frames[-1]["function"] == "deep" and event.culprit == "tests.site.views:deep"


def test_an_event_over_the_size_limit_is_shrunk_not_lost(capture_site, client, settings):
    from capture import publish

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_ITEMS": 1000, "MAX_STRING": 8000}
    client.post("/crash/form/", {f"field{i}": "v" * 5000 for i in range(200)})
    ((raw, event),) = entries(capture_site)
    assert len(raw) < MAX_EVENT_BYTES
    assert event.request == {"[Truncated]": "request data dropped: event over the size limit"}
    assert event.exc_type == "RuntimeError" and event.frames[0]["function"] == "crash_form"
    publish.get_publisher().tick()
    assert capture_site.redis.hget("errortrail:capture:stats", "shrunk") == b"1"
