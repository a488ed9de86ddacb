"""Hostile requests through the real middleware (Django's test client, and hand-built WSGI environs for raw bytes):
the friendly page is served, capture stays within a memory budget (tracemalloc peak of its own calls) and a work
budget (the text it scrubs and parses is bounded whatever the request's size), and the stored event, decoded from
the stream, is bounded and scrubbed.

Budgets: capture's own calls peak below CAPTURE_PEAK_BYTES of new allocations per request; no string longer than
SCRUB_INPUT_CHARS reaches a scrubbing regex, and no query or body longer than PARSE_INPUT_CHARS is parsed.
Request sizes here go up to 8 MB, so both budgets would fail if capture's work grew with the request.
"""

from __future__ import annotations

import importlib
import io
import json
import tracemalloc
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client

from contracts import codec
from contracts.events import MAX_EVENT_BYTES, MAX_TREE_STRING

STREAM = "errortrail:errors"
F = "[Filtered]"
CAPTURE_PEAK_BYTES = 512 * 1024
SCRUB_INPUT_CHARS = 2048 + 64  # the longest field limit, plus the margin scrubbed past a cut
PARSE_INPUT_CHARS = 8192  # the query-string cut and MAX_BODY_BYTES
MB = 1024 * 1024
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJob3N0aWxlIn0.aG9zdGlsZS1zaWduYXR1cmU"
CARD = "4111111111111111"


class Budget:
    """Wraps capture's entry points: records the peak of new allocations and the sizes of the text it works on."""

    ENTRY_POINTS = [("capture.middleware", "report"), ("capture.middleware", "deliver"),
                    ("capture.views", "observation_for"), ("capture.views", "render_friendly")]

    def __init__(self, monkeypatch):
        self.peak = 0
        self.calls = 0
        self.depth = 0
        self.scrubbed = 0
        self.parsed = 0
        for module_name, name in self.ENTRY_POINTS:
            module = importlib.import_module(module_name)
            monkeypatch.setattr(module, name, self._measured(getattr(module, name)))
        from capture import build, scrub

        real_safe, real_parse = scrub.make_safe_str, build.parse_qsl

        def safe_str(value):
            self.scrubbed = max(self.scrubbed, len(value))
            return real_safe(value)

        def parse_qsl(query, *args, **kwargs):
            self.parsed = max(self.parsed, len(query))
            return real_parse(query, *args, **kwargs)

        monkeypatch.setattr(scrub, "make_safe_str", safe_str)
        monkeypatch.setattr(build, "parse_qsl", parse_qsl)

    def _measured(self, function):
        def wrapper(*args, **kwargs):
            if self.depth:
                return function(*args, **kwargs)
            self.depth += 1
            self.calls += 1
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            try:
                return function(*args, **kwargs)
            finally:
                self.peak = max(self.peak, tracemalloc.get_traced_memory()[1] - start)
                self.depth -= 1

        return wrapper

    def check(self):
        assert self.calls, "capture was never called"
        assert self.peak < CAPTURE_PEAK_BYTES, f"capture allocated {self.peak} bytes at its peak"
        assert self.scrubbed <= SCRUB_INPUT_CHARS, f"a {self.scrubbed}-character string reached the scrubber"
        assert self.parsed <= PARSE_INPUT_CHARS, f"a {self.parsed}-character query or body was parsed"


@pytest.fixture
def hostile(capture_site, monkeypatch):
    """capture_site with capture's budgets measured (tracemalloc on for the test)."""
    tracemalloc.start()
    try:
        client = Client(raise_request_exception=False)
        yield SimpleNamespace(site=capture_site, budget=Budget(monkeypatch), client=client)
    finally:
        tracemalloc.stop()


def events(site):
    """(raw bytes, event) of every stream entry."""
    return [(fields[b"e"], codec.decode(fields[b"e"])) for _, fields in site.redis.xrange(STREAM)]


def stored(h, *secrets):
    """The single stored event, after the budget checks and checking no secret is in its bytes."""
    h.budget.check()
    ((raw, event),) = events(h.site)
    assert len(raw) < MAX_EVENT_BYTES
    for secret in secrets:
        assert secret.encode() not in raw, secret
    bounded(event)
    return event


def bounded(event):
    """Every field within the limits capture promises (tighter than the contract's)."""
    assert len(event.path) <= 2048 and len(event.url) <= 4096 and len(event.host or "") <= 255
    for name, value in (event.request.get("headers") or {}).items():
        assert len(value) <= 512, name
    for part in ("query", "form", "json"):
        if isinstance(event.request.get(part), dict):
            assert len(event.request[part]) <= 51, part
    assert len(event.request.get("body", "")) <= 1024
    walk(event.request)


def walk(value, depth=0):
    assert depth <= 6
    if isinstance(value, dict):
        for key, item in value.items():
            assert len(key) <= 128
            walk(item, depth + 1)
    elif isinstance(value, list):
        assert len(value) <= 51
        for item in value:
            walk(item, depth + 1)
    elif isinstance(value, str):
        assert len(value) <= min(MAX_TREE_STRING, 1024)


def friendly(response, status, title):
    assert response.status_code == status
    body = b"".join(response) if response.streaming else response.content
    assert title.encode() in body, body[:300]
    assert b"Traceback" not in body and b"Django" not in body


# -- headers, hosts, cookies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("HTTP_USER_AGENT", "A" * (2 * MB)),
    ("HTTP_REFERER", "http://testserver/" + "r" * MB + "?token=" + JWT),
    ("HTTP_REFERER", "http://testserver/?" + "a=1&" * 200_000),
    ("HTTP_ACCEPT_LANGUAGE", "en," * 100_000),
    ("HTTP_ACCEPT", "text/html;q=0.9," * 50_000 + "application/json"),
    ("HTTP_ACCEPT", "application/json," + "x/y;q=0.1," * 50_000),
    ("HTTP_AUTHORIZATION", "Bearer " + JWT + "t" * MB),
    ("HTTP_X_API_KEY", "k" * MB),
])
def test_a_huge_header(hostile, name, value):
    response = hostile.client.get("/nope/", **{name: value})
    friendly(response, 404, "We can")
    event = stored(hostile, JWT, "t" * 100, "k" * 100)
    assert set(event.request["headers"]) <= {"User-Agent", "Referer", "Accept-Language", "Accept"}


def test_many_headers(hostile):
    response = hostile.client.get("/nope/", HTTP_USER_AGENT="Mozilla/5.0 " + "A" * 4000,
                                  **{f"HTTP_X_CUSTOM_{i}": "v" * 8192 for i in range(500)})
    friendly(response, 404, "We can")
    event = stored(hostile, "v" * 100)
    assert event.request["headers"]["User-Agent"].endswith("A…")


@pytest.mark.parametrize("host", ["evil.test", "evil.test:8000", "h" * 10_000, f"{JWT}.evil.test", "[::1]:80",
                                  "site.test@evil.test", "bad host\u00e9"])
def test_a_forged_host_gets_the_friendly_400_and_is_stored_as_a_probe(hostile, host):
    response = hostile.client.get("/", HTTP_HOST=host)
    friendly(response, 400, "That request didn")
    event = stored(hostile, JWT)
    assert event.cls == "probe" and event.status == 400 and len(event.host) <= 255


def test_oversized_cookies_never_reach_the_event(hostile):
    others = (f"k{i}={'v' * 4000}" for i in range(200))
    cookie = "; ".join([f"sessionid={'s' * 4000}", f"csrftoken={'c' * 64}", *others])
    response = hostile.client.get("/pets/999/", HTTP_COOKIE=cookie)
    friendly(response, 404, "We can")
    event = stored(hostile, "s" * 100, "v" * 100)
    assert "Cookie" not in event.request["headers"]


def test_oversized_cookies_on_a_post_are_a_friendly_csrf_failure(hostile):
    csrf_client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    csrf_client.cookies["csrftoken"] = "x" * 100_000
    response = csrf_client.post("/appointments/1/book/", {"when": "monday"})
    friendly(response, 403, "This form has expired")
    event = stored(hostile, "x" * 100)
    assert event.cls == "csrf"


# -- bodies --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/crash/", "/crash/form/"])
def test_huge_form_bodies(hostile, path):
    body = "&".join([f"password={JWT}", *(f"f{i}={'v' * 1000}" for i in range(8000))])
    response = hostile.client.post(path, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 500)  # Django refuses the form read (too big) with a friendly 400
    event = stored(hostile, JWT)
    assert "form" in event.request or event.request["body"].startswith("[Omitted")


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", "application/json", ""])
def test_huge_and_binary_bodies_are_never_read(hostile, content_type):
    body = bytes(range(256)) * (8 * MB // 256)
    response = hostile.client.generic("POST", "/crash/", body, content_type=content_type)
    friendly(response, 500, "Something went wrong")
    event = stored(hostile)
    assert event.request["body"] == f"[Omitted: {len(body)} bytes over the 8192 byte limit]"


@pytest.mark.parametrize("content_type, expected", [
    ("application/octet-stream", "[Omitted: 4096 bytes of application/octet-stream]"),
    ("text/plain", "[Binary: 4096 bytes]"),
    ("application/json", "[Binary: 4096 bytes]"),
])
def test_small_binary_bodies_are_stored_as_a_note(hostile, content_type, expected):
    hostile.client.generic("POST", "/crash/", bytes(range(256)) * 16, content_type=content_type)
    assert stored(hostile).request["body"] == expected


@pytest.mark.parametrize("depth", [50, 1023, 1030, 4000])
def test_deeply_nested_json(hostile, depth):
    body = "[" * depth + json.dumps({"password": "deep-json-secret"}) + "]" * depth
    body = body if len(body) <= 8192 else '{"a":' * 1500 + "1" + "}" * 1500
    response = hostile.client.post("/crash/", body, content_type="application/json")
    friendly(response, 500, "Something went wrong")
    event = stored(hostile, "deep-json-secret")
    assert "json" in event.request or event.request["body"].startswith(("[[[[", '{"a":{'))


def test_a_json_body_of_many_keys_and_long_strings(hostile):
    body = json.dumps({f"k{i}": ("card " + CARD if i % 2 else "x" * 5000) for i in range(300)})[:8000] + "}"
    hostile.client.post("/crash/", body, content_type="application/json")
    stored(hostile, CARD)


def test_multipart_uploads(hostile):
    upload = io.BytesIO(b"\x89PNG" + b"\x00" * (3 * MB))
    upload.name = "<script>alert(1)</script>" + "n" * 150 + JWT + ".png"
    data = {"password": "multipart-secret", "scan": upload, **{f"f{i}": "v" for i in range(300)}}
    response = hostile.client.post("/crash/form/", data)
    friendly(response, 500, "Something went wrong")
    event = stored(hostile, "multipart-secret", JWT, "\\x00\\x00")
    assert event.request["form"]["password"] == F and len(event.request["form"]) == 51
    (scan,) = event.request["files"]
    assert scan["size"] == 3 * MB + 4 and scan["name"].endswith(F + ".png")  # Django keeps the part after "/"


def test_a_multipart_upload_with_a_huge_file_name_is_a_friendly_400(hostile):
    upload = io.BytesIO(b"x" * 10)
    upload.name = "n" * 100_000 + ".png"
    response = hostile.client.post("/crash/form/", {"password": "name-multipart-secret", "scan": upload})
    assert response.status_code in (400, 500)
    assert b"Traceback" not in response.content
    stored(hostile, "name-multipart-secret", "n" * 300)


def test_a_multipart_upload_the_view_never_read(hostile):
    upload = io.BytesIO(b"x" * (4 * MB))
    upload.name = "big.bin"
    hostile.client.post("/crash/", {"password": "unread-multipart-secret", "f": upload})
    assert stored(hostile, "unread-multipart-secret").request["body"] == "[Omitted: multipart upload not read]"


# -- paths and query strings ---------------------------------------------------------------------------------------


def test_thousands_of_query_keys(hostile):
    query = "&".join([f"password={JWT}", *(f"k{i}={i}" for i in range(20_000))])
    response = hostile.client.get("/nope/?" + query)
    friendly(response, 404, "We can")
    event = stored(hostile, JWT)
    assert len(event.request["query"]) == 51 and event.request["query"]["password"] == F


def test_a_huge_query_value_and_a_huge_path(hostile):
    hostile.client.get("/" + "p/" * 50_000 + "?q=" + "passwordpassword" * 20_000 + "=1")
    event = stored(hostile)
    assert event.path.endswith("…")


@pytest.mark.parametrize("path", ["/caf%E9/", "/%FF%FE%00/", "/%C0%AF../%C0%AF/", "/a%2F%2e%2e%2Fb/", "/%ED%A0%80/",
                                  "/" + quote(JWT) + "/", "/cards/" + CARD + "/"])
def test_invalid_utf8_and_secrets_in_percent_encoded_paths(hostile, path):
    response = hostile.client.get(path + "?q=%FF%FE&t=%00%01&name=caf%C3%A9&card=" + CARD)
    friendly(response, 404, "We can")
    event = stored(hostile, JWT, CARD)
    assert event.request["query"]["name"] == "café" and event.request["query"]["card"] == F


def raw_wsgi(path_info: bytes, query: bytes = b"", method="GET", body=b"", headers=None):
    """Call Django's WSGI handler with an environ built by hand (PEP 3333: raw bytes as latin-1 strings)."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path_info.decode("latin-1"), "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "text/plain", "HTTP_HOST": "testserver",
        **(headers or {}),
    }
    status = []
    # As Django's test client does: no connection housekeeping (these tests may not touch the database at all).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, lambda s, h, exc_info=None: status.append(s))
        try:
            body = b"".join(result)
        finally:
            result.close()  # what a WSGI server does once the response is sent: capture delivers its event here
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return int(status[0].split()[0]), body


@pytest.mark.parametrize("path", [b"/caf\xe9/", b"/\xff\xfe/\x00/", b"/\xc0\xaf/", b"/" + b"\x80" * 5000 + b"/",
                                  b"/wp-login.php\xff", b"/" + JWT.encode() + b"/\xe9"])
def test_raw_bytes_in_path_info_and_query(hostile, path):
    status, body = raw_wsgi(path, b"q=\xff\xfe&token=" + JWT.encode() + b"&x=\xe9")
    assert status == 404 and b"We can" in body
    event = stored(hostile, JWT)
    assert event.request["query"]["token"] == F
    event.path.encode("utf-8")


def test_raw_bytes_in_headers_and_body(hostile):
    raw_headers = {"HTTP_USER_AGENT": "\xff\xfe\x00agent", "HTTP_REFERER": "http://\xff/\xe9?token=x"}
    status, body = raw_wsgi(b"/crash/", method="POST", body=b"\xff\xfe\x00 password=raw-body-secret",
                            headers=raw_headers)
    assert status == 403 and b"This form has expired" in body  # a raw POST carries no CSRF token
    event = stored(hostile, "raw-body-secret")
    assert event.cls == "csrf" and event.request["headers"]["User-Agent"] == "\xff\xfe\x00agent"
    assert event.request["body"] == "[Binary: 28 bytes]"
