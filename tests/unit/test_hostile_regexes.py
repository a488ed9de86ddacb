"""Scrubbing regexes against hostile text: linear work on long runs, and the same answers as before the fix.

capture's key=value rule ("[\\w]*password[\\w]*=value") backtracked cubically: one 1 KB query value
"passwordpassword…=" held a worker for 2 s, and a request carries 50 of them. bugbot's copy took 12 s on 1 KB.
There is no step counter in `re`, so the first test is a hang guard with a margin of about a thousand: the whole
table takes ~0.1 s now and took minutes before. It detects super-linear blowups, not speed.
"""

from __future__ import annotations

import re
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bugbot import redact
from capture.conf import SCRUB_KEYS
from capture.scrub import Scrubber, _assigned
from contracts import fingerprint
from tests.fuzz.strategies import FUZZ

HANG_GUARD_S = 60.0
UNITS = ["password", "passwordx", "a.b-c", "x", "1.", "a:", "[password]", "password ", "token", "x@", "é", "a1",
         "Bearer ", "eyJhbGciOi", "4111 ", "::", "1-", "password\\\"", "'", "\"", "=", "card=", "[Filtered]",
         "h://", "a:b@", "x://y:z"]
TAILS = ["", "=", ":", "=\"", "password=", "@", ".5", "@a.b", "://x@"]


def hostile_texts(size: int) -> list[str]:
    """Every unit repeated to `size` characters, with every tail."""
    return [(unit * (size // len(unit) + 1))[:size] + tail for unit in UNITS for tail in TAILS]


def run_with_guard(work) -> None:
    done = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # reported in the test's thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="regex-guard").start()
    assert done.wait(HANG_GUARD_S), "scrubbing hostile text did not finish: super-linear backtracking"
    if failure:
        raise failure[0]


def test_capture_scrubbing_of_long_hostile_runs_finishes():
    scrub = Scrubber(SCRUB_KEYS, 1024, 5, 50)
    texts = hostile_texts(2048)

    def work() -> None:
        for value in texts:
            assert len(scrub.text(value, 2048)) <= 2048
            scrub.value({"k": [value]})
            fingerprint.normalize_message(value + " ")  # a miss in its cache
            fingerprint.normalize_path("/" + value + "/x")

    run_with_guard(work)


def test_bugbot_redaction_of_long_hostile_runs_finishes():
    texts = hostile_texts(4000) + ["\n".join(hostile_texts(600))[:60000]]

    def work() -> None:
        for value in texts:
            redact.text(value, 60000)

    run_with_guard(work)


# -- the fixed regexes give the same answers as the old ones (on text short enough for the old ones) ---------

_CAPTURE_OLD = (
    r"(?i)([\w.\[\]-]*(?:WORDS)[\w.\[\]-]*)(['\"]?\s*[=:]\s*)"
    r"(\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|\[[^\]]*\]?|(?:\[Filtered\]|[^\s&\"',;}\]])+)"
)
_REDACT_OLD_ASSIGN = re.compile(
    r"(?i)([\w.-]*(?:" + redact._WORDS + r")[\w.-]*)(\"?'?[ \t]*[=:][ \t]*[\"']?)(?!\[Filtered\])([^\s&\"',;}\]]+)")
_REDACT_OLD_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_alphabet = st.sampled_from(list("aAxz09_.-[]@+=: \t\"'&;,}é") + ["password", "token", "Card", "pwd", "[Filtered]",
                                                                   "api_key", "x@y.z", "\\"])
_texts = st.lists(_alphabet, max_size=40).map("".join)


@FUZZ
@given(_texts)
def test_capture_key_value_rule_is_unchanged(value):
    scrub = Scrubber(SCRUB_KEYS)
    words = "|".join(re.escape(k) for k in sorted(scrub.keys, key=len, reverse=True))
    old = re.compile(_CAPTURE_OLD.replace("WORDS", words))
    assert scrub._assign.sub(_assigned, value) == old.sub(_assigned, value)


@FUZZ
@given(_texts)
def test_bugbot_key_value_and_email_rules_are_unchanged(value):
    def filtered(m):
        return f"{m.group(1)}{m.group(2)}{redact.FILTERED}"

    assert redact._ASSIGN.sub(filtered, value) == _REDACT_OLD_ASSIGN.sub(filtered, value)
    assert redact._EMAIL.sub("[email]", value) == _REDACT_OLD_EMAIL.sub("[email]", value)


@FUZZ
@given(_texts)
def test_the_fingerprint_email_rule_is_unchanged(value):
    assert fingerprint._EMAIL.sub("<email>", value) == _REDACT_OLD_EMAIL.sub("<email>", value)
    assert bool(fingerprint._EMAIL.fullmatch(value)) == bool(_REDACT_OLD_EMAIL.fullmatch(value))


@pytest.mark.parametrize("value, expected", [
    ("x?password=hunter2&next=/", "x?password=[Filtered]&next=/"),
    ("user.api_key: 'abc def'", "user.api_key: '[Filtered]'"),
    ("my_password_hint = \"blue\" ok", "my_password_hint = \"[Filtered]\" ok"),
    ("passwordpassword=1", "passwordpassword=[Filtered]"),
    ("nothing=1 here", "nothing=1 here"),
])
def test_capture_key_value_examples(value, expected):
    assert Scrubber(SCRUB_KEYS).text(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("no postgres://app:s3cr3t-dsn@db:5432/site", "no postgres://[Filtered]@db:5432/site"),
    ("Referer https://ann:pw-in-url@site.test/x?y=1", "Referer https://[Filtered]@site.test/x?y=1"),
    ("redis://:only-a-password@cache:6379/0", "redis://[Filtered]@cache:6379/0"),
    ("mail ann@site.test or see https://site.test/@ann", "mail ann@site.test or see https://site.test/@ann"),
])
def test_credentials_in_urls_are_scrubbed(value, expected):
    assert Scrubber(SCRUB_KEYS).text(value) == expected
