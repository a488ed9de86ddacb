"""Filing decisions (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bugbot import policy
from bugbot.policy import CLAIM, FAIL, HOLD, RETRY, SKIP, WAIT, Caps, Claim

NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
ROOM, FULL = Caps(5, 20, 4, 19), Caps(5, 20, 5, 5)


@pytest.mark.parametrize("row, caps, expected", [
    (Claim("pending"), ROOM, CLAIM),
    (Claim("pending"), FULL, HOLD),
    (Claim("pending", counted=True), FULL, CLAIM),
    (Claim("pending", cap_exempt=True), FULL, CLAIM),
    (Claim("pending", needs_reopen=True), FULL, CLAIM),
    (Claim("pending", next_attempt_at=NOW + timedelta(seconds=1)), ROOM, SKIP),
    (Claim("pending", next_attempt_at=NOW), ROOM, CLAIM),
    (Claim("held"), ROOM, CLAIM),
    (Claim("held"), Caps(5, 20, 0, 20), HOLD),
    (Claim("filing", claimed_at=NOW - timedelta(seconds=599)), ROOM, SKIP),
    (Claim("filing", claimed_at=NOW - timedelta(seconds=600)), ROOM, CLAIM),
    (Claim("filing"), ROOM, CLAIM),
    (Claim("filed"), ROOM, SKIP),
    (Claim("failed"), ROOM, SKIP),
    (Claim("none"), ROOM, SKIP),
])
def test_decide_claim(row, caps, expected):
    assert policy.decide_claim(row, caps, NOW, 600) == expected


def test_zero_caps_mean_no_automatic_filing():
    assert policy.decide_claim(Claim("pending"), Caps(0, 20), NOW, 600) == HOLD


def test_backoff_doubles_and_caps():
    assert [policy.backoff_s(n, 30, 200) for n in (0, 1, 2, 3, 4)] == [30, 30, 60, 120, 200]


@pytest.mark.parametrize("args, expected", [
    (("fatal", None, 1, 8, 30, 3600, 60, False), (FAIL, 0.0)),
    (("rate_limited", 10.0, 1, 8, 30, 3600, 60, False), (WAIT, 10.0)),
    (("rate_limited", 10.0, 1, 8, 30, 3600, 60, True), (RETRY, 30)),
    (("rate_limited", 900.0, 1, 8, 30, 3600, 60, False), (RETRY, 900.0)),
    (("rate_limited", None, 9, 8, 30, 3600, 60, False), (WAIT, 0.0)),
    (("retryable", None, 2, 8, 30, 3600, 60, False), (RETRY, 60)),
    (("retryable", None, 8, 8, 30, 3600, 60, False), (FAIL, 0.0)),
])
def test_after_failure(args, expected):
    plan = policy.after_failure(*args)
    assert (plan.action, plan.delay_s) == expected


def test_regression_rules():
    assert policy.is_regression("fixed", 1000, True, 0)
    assert policy.is_regression("fixed", 1000, False, 1001)
    assert not policy.is_regression("fixed", 1000, False, 1000)
    assert not policy.is_regression("open", 0, True, 5)
    assert not policy.is_regression("wontfix", 0, True, 5)


@pytest.mark.parametrize("action, reason, status", [
    ("closed", "completed", "fixed"), ("closed", None, "fixed"), ("closed", "not_planned", "wontfix"),
    ("closed", "duplicate", None), ("reopened", None, "open"), ("edited", None, None), ("labeled", None, None),
])
def test_status_from_webhook(action, reason, status):
    assert policy.status_from_webhook(action, reason) == status


def test_status_from_issue():
    assert policy.status_from_issue("open", None) == "open"
    assert policy.status_from_issue("closed", "not_planned") == "wontfix"
