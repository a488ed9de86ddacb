"""Scrubbing, bounds and classification (pure), and the property that no secret reaches an event's bytes."""

from __future__ import annotations

import base64
import json
import os
import sys
import string
from urllib.parse import quote, urlencode

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from capture import conf
from capture.build import classify, observe, request_data, scrubber, shrink, to_event
from capture.conf import CRAWLER_AGENTS, PROBE_PATTERNS, QUIET_404_PATTERNS, SCRUB_KEYS
from capture.scrub import FILTERED, Scrubber, luhn_ok, make_safe_str
from contracts import codec

S = Scrubber(SCRUB_KEYS, max_string=64, max_depth=3, max_items=4)


# -- the scrubber --


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'password': 'two words'}", "{'password': '[Filtered]'}"),
        ('{"api_key": "a \\" b", "n": 1}', '{"api_key": "[Filtered]", "n": 1}'),
        ("user[password]=x&page=2", "user[password]=[Filtered]&page=2"),
        ("<QueryDict: {'token': ['a', 'b']}>", "<QueryDict: {'token': [Filtered]}>"),
        ("Authorization: Bearer abcdef123456", "Authorization: [Filtered] [Filtered]"),
        ("sent Bearer abcdef123456 twice", "sent Bearer [Filtered] twice"),
        ("card 4111 1111 1111 1111.", "card [Filtered]."),
        ("card 4111-1111-1111-1111", "card [Filtered]"),
        ("order 4111111111111112", "order 4111111111111112"),  # fails Luhn
        ("pi=3.4111111111111111", "pi=3.4111111111111111"),  # a decimal, not a card
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature", "jwt [Filtered]"),
        ("order 12 4111 1111 1111 1111 done", "order 12 [Filtered] done"),
        ("ids 123456789 4111111111111111 5500005555555559", "ids 123456789 [Filtered]"),
        ("/p/Bearer abcdef123456/Bearer ghijkl7890/", "/p/Bearer [Filtered]Bearer [Filtered]"),
        ("api_key=Zk00A1 3000000000000004", "api_key=[Filtered] [Filtered]"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_text(text, expected):
    assert Scrubber(SCRUB_KEYS).text(text) == expected


def test_text_is_capped_within_its_limit():
    assert S.text("x" * 100) == "x" * 63 + "…"
    assert len(S.text("x" * 100, 10)) == 10


def test_a_secret_cut_by_the_cap_is_still_recognised():
    text = "a" * 60 + " 4111111111111111"
    assert "4111" not in S.text(text)


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("5500005555555559") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_values_are_bounded_and_json_like():
    value = {"a": [1, 2, 3, 4, 5, 6], "b": {"c": {"d": {"e": 1}}}, "password": "x", "f": 2**70, "g": float("nan"),
             "h": b"\xff", "i": object}
    out = S.value(value)
    assert out["a"] == [1, 2, 3, 4, "[Truncated: 2 more]"]
    assert out["b"] == {"c": {"d": "[Truncated: too deep]"}}
    assert out["password"] == FILTERED
    assert out["f"] == str(2**70)
    assert "[Truncated]" in out  # only max_items keys
    assert S.value({"g": float("nan"), "h": b"\xff", "i": object, "j": (1,)}) == {
        "g": "nan", "h": "[Binary: 1 bytes]", "i": "<class 'object'>", "j": [1],
    }


def test_mapping_counts_what_it_left_out():
    assert S.mapping([(f"k{i}", i) for i in range(10)])["[Truncated]"] == "more keys"
    assert S.mapping([("a", 1)], total=7)["[Truncated]"] == "6 more keys"


def test_unprintable_values_never_break_scrubbing():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert S.value(Broken()).startswith("<unrepresentable Broken")
    assert S.mapping([(Broken(), 1)]) == {"<unrepresentable Broken: RuntimeError>": 1}


def test_lone_surrogates_are_made_encodable():
    assert make_safe_str("a\udcff") == "a\\udcff"
    assert S.text("\udcff").encode("utf-8")


# -- classification --


def _classify(status, path="/x/", agent="", referer="", host="testserver", csrf=False, disallowed=False):
    return classify(status, path, agent, referer, host, csrf=csrf, disallowed_host=disallowed,
                    probe_patterns=PROBE_PATTERNS, crawler_agents=CRAWLER_AGENTS, quiet_404=QUIET_404_PATTERNS)


@pytest.mark.parametrize(
    ("kwargs", "cls"),
    [
        ({"status": 500}, "app_error"),
        ({"status": 503, "path": "/wp-admin/"}, "app_error"),
        ({"status": 403, "csrf": True}, "csrf"),
        ({"status": 404}, "not_found"),
        ({"status": 404, "referer": "http://testserver/a/"}, "broken_link"),
        ({"status": 404, "referer": "http://TESTSERVER/a/"}, "broken_link"),
        ({"status": 404, "referer": "http://other/a/"}, "not_found"),
        ({"status": 404, "path": "/favicon.ico", "referer": "http://testserver/a/"}, "not_found"),
        ({"status": 404, "path": "/static/apple-touch-icon-120x120.png", "referer": "http://testserver/"}, "not_found"),
        ({"status": 404, "path": "/.well-known/change-password", "referer": "http://testserver/"}, "not_found"),
        ({"status": 404, "path": "/favicon.ico/x", "referer": "http://testserver/a/"}, "broken_link"),
        ({"status": 404, "path": "/admin.php"}, "probe"),
        ({"status": 404, "path": "/wp-content/x"}, "probe"),
        ({"status": 404, "path": "/.env"}, "probe"),
        ({"status": 404, "path": "/.git/config"}, "probe"),
        ({"status": 404, "path": "/cgi-bin/x"}, "probe"),
        ({"status": 404, "path": "/phpmyadmin/"}, "probe"),
        ({"status": 404, "agent": "Mozilla/5.0 (compatible; Nuclei)"}, "probe"),
        ({"status": 400, "disallowed": True}, "probe"),
        ({"status": 403}, "permission"),
        ({"status": 401}, "permission"),
        ({"status": 400}, "client_error"),
        ({"status": 405}, "client_error"),
        ({"status": 404, "path": "/pets/env/"}, "not_found"),
    ],
)
def test_classify(kwargs, cls):
    assert _classify(**kwargs) == cls


# -- requests to events --

RF = RequestFactory()


def test_multipart_bodies_are_never_read():
    request = RF.post("/x/", {"f": "v"})  # multipart by default
    _, data = request_data(request, conf.get(), scrubber(conf.get()))
    assert data["body"] == "[Omitted: multipart upload not read]"
    assert not request._read_started and "_body" not in request.__dict__


def test_a_bad_content_length_is_noted():
    request = RF.post("/x/", "a=1", content_type="application/x-www-form-urlencoded", CONTENT_LENGTH="many")
    _, data = request_data(request, conf.get(), scrubber(conf.get()))
    assert data["body"] == "[Omitted: bad Content-Length]"


def test_other_content_types_are_summarised():
    request = RF.post("/x/", b"\x00" * 10, content_type="application/octet-stream")
    _, data = request_data(request, conf.get(), scrubber(conf.get()))
    assert data["body"] == "[Omitted: 10 bytes of application/octet-stream]"


def test_a_malformed_referer_is_omitted():
    request = RF.get("/x/", HTTP_REFERER="http://[::1/broken")
    _, data = request_data(request, conf.get(), scrubber(conf.get()))
    assert data["headers"]["Referer"] == "[Omitted: malformed Referer]"


def test_shrink_drops_frame_details_then_request_data():
    request = RF.get("/x/?a=1")
    try:
        raise ValueError("boom")
    except ValueError:
        obs = observe(request, 500, conf.get(), exc_info=sys.exc_info())
    event = to_event(obs, request, conf.get())
    assert "vars" in event.frames[0] and "context" in event.frames[0]
    level1 = shrink(event, 1)
    assert set(level1.frames[0]) == {"module", "function", "filename", "lineno"}
    assert level1.request == event.request
    assert shrink(event, 2).request == {"[Truncated]": "request data dropped: event over the size limit"}


# -- property: a secret put anywhere never appears in the encoded event --

ALNUM = string.ascii_letters + string.digits
secrets_st = st.text(ALNUM, min_size=16, max_size=32).map(lambda s: "Zk" + s)
neutral_st = st.sampled_from(["q", "note", "comment", "search", "title", "x"])


@st.composite
def deny_key_st(draw):
    word = draw(st.sampled_from(SCRUB_KEYS))
    word = "".join(c.upper() if draw(st.booleans()) else c for c in word)
    return draw(st.sampled_from(["", "user_", "new-", "x."])) + word + draw(st.sampled_from(["", "_1", "2", "Field"]))


def _card(draw):
    digits = [draw(st.sampled_from("3456"))] + [draw(st.sampled_from(string.digits)) for _ in range(14)]
    for check in string.digits:
        if luhn_ok("".join(digits) + check):
            number = "".join(digits) + check
            break
    sep = draw(st.sampled_from(["", " ", "-"]))
    return number, sep.join(number[i : i + 4] for i in range(0, 16, 4))


def _jwt(secret):
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({"sub": secret}).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{secret}", [body, secret]


@st.composite
def request_st(draw):
    """A request with secrets placed in many parts; returns (request, exception locals, forbidden strings)."""
    forbidden: list[str] = []
    query: list[tuple[str, str]] = []
    form: list[tuple[str, str]] = []
    tree: dict = {}
    headers: dict[str, str] = {}
    texts: list[str] = []  # secrets in forms the scrubber recognises anywhere
    for _ in range(draw(st.integers(1, 6))):
        secret = draw(secrets_st)
        where = draw(st.sampled_from(["query", "form", "json", "json_list", "auth", "cookie", "api_header",
                                      "card", "jwt", "bearer", "referer_query", "message"]))
        if where in ("query", "form", "json", "json_list", "referer_query", "message"):
            key = draw(deny_key_st())
            if where == "query":
                query.append((key, secret))
            elif where == "form":
                form.append((key, secret))
            elif where == "json":
                tree.setdefault("nested", {})[key] = secret
            elif where == "json_list":
                tree.setdefault("items", []).append({key: {"deeper": secret}})
            elif where == "referer_query":
                headers["HTTP_REFERER"] = f"http://testserver/back/?{urlencode({key: secret})}"
            else:
                texts.append(f"{key}={secret}")
            forbidden.append(secret)
        elif where == "auth":
            headers["HTTP_AUTHORIZATION"] = draw(st.sampled_from(["Bearer ", "Basic ", "Token ", ""])) + secret
            forbidden.append(secret)
        elif where == "cookie":
            headers["HTTP_COOKIE"] = f"sessionid={secret}; theme=dark"
            forbidden.append(secret)
        elif where == "api_header":
            headers["HTTP_X_API_KEY"] = secret
            forbidden.append(secret)
        else:
            if where == "card":
                number, shown = _card(draw)
                value, parts = shown, [number, shown]
            elif where == "jwt":
                value, parts = _jwt(secret)
            else:
                value, parts = f"Bearer {secret}", [secret]
            forbidden.extend(parts)
            texts.append(value)
            place = draw(st.sampled_from(["query", "form", "json", "agent", "referer_path", "path", "message"]))
            if place == "query":
                query.append((draw(neutral_st), value))
            elif place == "form":
                form.append((draw(neutral_st), value))
            elif place == "json":
                tree[draw(neutral_st)] = f"see {value} here"
            elif place == "agent":
                headers["HTTP_USER_AGENT"] = f"Mozilla/5.0 {value}"
            elif place == "referer_path":
                headers["HTTP_REFERER"] = f"http://testserver/{quote(value)}/"
            elif place == "path":
                tree.setdefault("path", []).append(value)
    path = "/p/" + "".join(quote(p, safe="") + "/" for p in tree.pop("path", []))
    url = path + ("?" + urlencode(query) if query else "")
    body_kind = draw(st.sampled_from(["form", "json"]))
    if body_kind == "form" or not tree:
        request = RF.post(url, urlencode(form), content_type="application/x-www-form-urlencoded", **headers)
        texts.extend(f"{k} {v}" for k, v in form if not any(w in k.lower() for w in SCRUB_KEYS))
    else:
        tree["fields"] = dict(form)
        request = RF.post(url, json.dumps(tree), content_type="application/json", **headers)
    if draw(st.booleans()):
        request.POST  # the view parsed the form
    return request, {"payload": tree, "form": form, "message": " ".join(texts)}, forbidden


def _raise_with_locals(request, locals_):
    payload, form = locals_["payload"], locals_["form"]  # noqa: F841  (locals the scrubber must clean)
    raise RuntimeError(f"failed: {locals_['message']}")


def _exc_info(request, locals_):
    # The traceback starts here, so the test's own frame (which lists the secrets) is not part of it.
    try:
        _raise_with_locals(request, locals_)
    except RuntimeError:
        return sys.exc_info()


@hsettings(max_examples=int(os.environ.get("ERRORTRAIL_HYPOTHESIS_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_st(), st.sampled_from([400, 403, 404, 500]))
def test_no_secret_reaches_the_encoded_event(case, status):
    request, locals_, forbidden = case
    cfg = conf.get()
    obs = observe(request, status, cfg, exc_info=_exc_info(request, locals_) if status == 500 else None)
    data = codec.encode(to_event(obs, request, cfg))
    for secret in forbidden:
        assert secret.encode() not in data, secret
        assert quote(secret).encode() not in data, secret
