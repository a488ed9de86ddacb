"""Secrets in frame locals that no deny word names: request headers, the WSGI environ and cookies held in locals
are never rendered (only the event's allowlisted headers are kept); hyphenated key names are scrubbed too."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import path

from contracts import codec

pytestmark = pytest.mark.urls(__name__)
PLAIN = {"header": "plainheadervalue01", "api": "hyphenapikey02", "cookie": "plaincookievalue03",
         "environ": "plainenvironvalue04", "body": "hyphenbodykey05", "query": "hyphenquerykey06"}


def holds_request_parts(request):
    headers = request.headers  # noqa: F841
    meta = request.META  # noqa: F841
    jar = request.COOKIES  # noqa: F841  (its name holds no deny word)
    copied = dict(request.headers)  # noqa: F841  (a plain copy: scrubbed by key and by value shape only)
    json.loads(request.body or b"{}")
    raise RuntimeError("request parts view failed")


def no_request_parts(request):
    request.COOKIES  # noqa: B018  (read, but not held in a local of this frame)
    meta, cookies = {"HTTP_X_SHOP_REF": "kept"}, {"cart_ref": "kept"}  # noqa: F841  (look-alikes stay)
    raise RuntimeError("look-alikes view failed")


urlpatterns = [path("parts/", holds_request_parts), path("lookalikes/", no_request_parts)]
handler500 = "capture.views.server_error"


def only(site):
    ((_, fields),) = site.redis.xrange("errortrail:errors")
    return fields[b"e"], codec.decode(fields[b"e"])


def test_headers_environ_and_cookies_in_locals_are_not_kept(capture_site):
    client = Client(raise_request_exception=False)
    client.cookies["cart_ref"] = PLAIN["cookie"]
    client.post("/parts/?api-key=" + PLAIN["query"], json.dumps({"api-key": PLAIN["body"]}),
                content_type="application/json", HTTP_X_SHOP_REF=PLAIN["header"], HTTP_X_API_KEY=PLAIN["api"],
                SERVER_SOFTWARE_SECRETLESS=PLAIN["environ"])
    raw, event = only(capture_site)
    local = event.frames[-1]["vars"]
    # The one plain value left is in the plain copy, where nothing can tell it is secret (see docs/logging.md).
    assert [name for name, value in PLAIN.items() if value.encode() in raw] == ["header"]
    copied = local.pop("copied")
    assert PLAIN["header"] in copied and "'X-Api-Key': '[Filtered]'" in copied and PLAIN["header"] not in repr(local)
    assert local["headers"].startswith("<HttpHeaders: ") and local["headers"].endswith(" entries, not kept>")
    assert local["meta"].startswith("<dict: ") and local["jar"] == "<dict: 1 entries, not kept>"
    assert event.request["query"] == {"api-key": "[Filtered]"} and event.request["json"] == {"api-key": "[Filtered]"}


def test_other_dicts_are_rendered_as_before(capture_site):
    Client(raise_request_exception=False).get("/lookalikes/", HTTP_COOKIE="cart_ref=x")
    _, event = only(capture_site)
    local = event.frames[-1]["vars"]
    assert local["meta"] == "{'HTTP_X_SHOP_REF': 'kept'}" and local["cookies"] == "[Filtered]"  # its name says cookie
