"""The final redaction pass (pure)."""

from __future__ import annotations

import pytest

from bugbot import redact


@pytest.mark.parametrize("raw, gone", [
    ("password=hunter2&x=1", "hunter2"),
    ('{"session_id": "xyz123"}', "xyz123"),
    ("Authorization: Bearer abcdef123456", "abcdef123456"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "eyJhbGci"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz012345", "ghp_"),
    ("key AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
    ("card 4111-1111-1111-1111", "4111"),
    ("mail alice.b+x@example.co.uk", "alice"),
    ("from 10.1.2.3", "10.1.2.3"),
    ("from fe80::1ff:fe23:4567:890a", "fe80"),
    ("from 2001:db8:85a3:0:0:8a2e:370:7334", "2001:db8"),
])
def test_text_removes(raw, gone):
    assert gone not in redact.text(raw)


@pytest.mark.parametrize("kept", [
    "2026-12-04 21:14:03 UTC", "std::map", "route <int:pk>", "1234567890123", "version 256.1.1.1",
    "csrf kind token_missing",
])
def test_text_keeps(kept):
    assert redact.text(kept) == kept


def test_already_filtered_values_stay_as_they_are():
    once = redact.text('{"card":"[Filtered]","password": "[Filtered]"} token=[Filtered]')
    assert once == '{"card":"[Filtered]","password": "[Filtered]"} token=[Filtered]' == redact.text(once)
    assert redact.text("password:\nnext line") == "password:\nnext line"  # never across lines


def test_text_caps_and_strips_control_characters():
    assert redact.text("a\x00b\x1bc") == "abc"
    assert redact.text("x" * 50, 10) == "x" * 10 + "…"
    assert redact.text(None) == ""


def test_event_payload_redacts_free_text_only_and_drops_frame_locals():
    wire = {"fingerprint": "f" * 64, "basis": "v1|http|4xx|csrf|csrf=token_missing", "path": "/u/bob@example.com/",
            "frames": [{"module": "m", "function": "f", "context": "pw='x' password=hunter2", "vars": {"a": 1}},
                       "junk"]}
    out = redact.event_payload(wire)
    assert out["basis"] == wire["basis"] and out["fingerprint"] == wire["fingerprint"]
    assert out["path"] == "/u/[email]/"
    assert out["frames"] == [{"module": "m", "function": "f", "context": "pw='x' password=[Filtered]"}]
