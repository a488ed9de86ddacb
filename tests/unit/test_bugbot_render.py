"""Issue titles and bodies (pure): the summary forms, the sections, the marker, and nothing secret or personal."""

from __future__ import annotations

import re

from bugbot import redact, render
from contracts import codec
from tests.bugbot_support.factories import csrf_signal, error_signal, fp


def wire(event):
    return redact.event_payload(codec.to_map(event))


def test_titles_follow_the_story_examples():
    assert render.title("B-014", wire(csrf_signal())) == "B-014: CSRF failure on POST /appointments/<int:pk>/book/"
    assert render.title("B-015", wire(error_signal())) == "B-015: KeyError in clinic.views:invoice"


def test_summaries_of_other_classes_and_fallbacks():
    assert render.summary({"cls": "broken_link", "status": 404, "method": "get", "path": "/pets/17/"}) == (
        "Broken link (404) on GET /pets/<int>/")
    assert render.summary({"cls": "not_found", "status": 404, "route": "/x/"}) == "Page not found (404) on GET /x/"
    assert render.summary({"cls": "app_error", "status": 502, "method": "GET", "route": "up/"}) == (
        "Server error (502) on GET /up/")
    assert render.summary({"cls": "weird", "status": 418, "method": "GET", "path": "/t/"}) == "Error (418) on GET /t/"
    assert render.summary({"cls": "app_error", "exc_type": "ValueError", "route": "a/"}) == "ValueError in /a/"
    long = render.summary({"cls": "csrf", "method": "POST", "route": "x" * 500})
    assert len(long) == render.MAX_SUMMARY and long.endswith("…")
    assert render.pattern_title("B-003", "csrf", "/api/*") == "B-003: csrf errors on /api/*"


def test_body_has_every_section_and_the_marker():
    w = wire(error_signal(release="2.0", environment="prod"))
    body = render.body(w, "https://site.test/errors/patterns/abc/")
    assert "reached 3 occurrences" in body
    assert "| Occurrences | 5 (users affected: 1) |" in body
    assert re.search(r"\| First seen \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \|", body)
    assert "| Request | `GET /invoices/<int:pk>/` |" in body
    assert "`KeyError: 'total'`" in body and "Culprit: `clinic.views:invoice`" in body
    assert "clinic/views.py:42 in clinic.views:invoice" in body and "total = prices['total']" in body
    assert "### Sample request (scrubbed)" in body and "GET /invoices/17/" in body
    assert "[See this pattern on the dashboard](https://site.test/errors/patterns/abc/)" in body
    assert "`2.0` in `prod`" in body
    assert body.rstrip().endswith(render.marker(fp("keyerror")))
    assert f"Fingerprint: `{fp('keyerror')}`" in body
    csrf = render.body(wire(csrf_signal(regression=True)))
    assert "| CSRF reason | `token_missing` |" in csrf and "a regression" in csrf and "dashboard" not in csrf


def test_body_copes_with_sparse_or_odd_maps():
    body = render.body({"fingerprint": fp(1), "frames": ["junk", {"module": "m"}], "exc_type": "E", "first_seen": "x"})
    assert "| First seen | unknown |" in body and "m:?" in body


def test_user_text_cannot_forge_a_marker_break_code_or_ping_people():
    w = wire(csrf_signal(route=None, path="/a`b/<!-- errortrail:fingerprint=" + "0" * 64 + " -->/"))
    body = render.body(w)
    assert body.count("<!--") == 1 and body.count("errortrail:fingerprint=") == 1
    assert "| ``POST /a`b/" in body  # a longer fence around a value holding a backtick
    assert "`GET /a\\|b/`" in render.body(wire(csrf_signal(route="/a|b/", method="GET")))  # pipes kept in the table
    assert render._code("`x`") == "`` `x` ``"
    fenced = render._fence(["```danger"])
    assert fenced[0] == "````" and fenced[-1] == "````"


def test_secrets_and_personal_data_never_reach_the_text():
    planted = error_signal(
        exc_message="password=hunter2 token=abc123def for alice@example.com from 203.0.113.9",
        sample_request="GET /x/?api_key=sk_live_abcdefgh12345678 "
                       "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        frames=[{"module": "m", "function": "f", "context": "charge('4111 1111 1111 1111')", "vars": {"pw": "x"}}],
        culprit="m:f",
    )
    text = render.title("B-001", wire(planted)) + render.body(wire(planted))
    for secret in ("hunter2", "abc123def", "alice@example.com", "203.0.113.9", "sk_live_", "eyJhbGci",
                   "4111 1111 1111 1111"):
        assert secret not in text
    assert "'pw'" not in text and "vars" not in text


def test_pattern_body_and_regression_comment():
    body = render.pattern_body("csrf", "/api/*", "Login is flaky, alice@example.com", "https://d/k/", "pattern-B-003")
    assert "`csrf`" in body and "`/api/*`" in body and "[email]" in body
    assert body.rstrip().endswith(render.marker("pattern-B-003"))
    comment = render.comment_regression("B-003", {"fingerprint": "f", "count": 9, "release": "2.1"}, 2)
    assert "came back" in comment and "regression 2" in comment and "`2.1`" in comment
    assert comment.endswith(render.regression_marker("f", 2))
