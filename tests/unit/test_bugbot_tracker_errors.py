"""Classifying GitHub answers (pure)."""

from __future__ import annotations

import pytest

from bugbot.trackers import FATAL, RATE_LIMITED, RETRYABLE, TrackerError
from bugbot.trackers.errors import SECONDARY_WAIT_S, classify, rate_limit_wait


@pytest.mark.parametrize("status, headers, message, kind, wait", [
    (None, None, "connection refused", RETRYABLE, None),
    (500, {}, "", RETRYABLE, None),
    (502, {}, "Bad gateway", RETRYABLE, None),
    (503, {"Retry-After": "3"}, "", RATE_LIMITED, 3.0),
    (401, {}, "Bad credentials", FATAL, None),
    (404, {}, "Not Found", FATAL, None),
    (410, {}, "Issues are disabled", FATAL, None),
    (422, {}, "Validation Failed", FATAL, None),
    (409, {}, "Conflict", RETRYABLE, None),
    (403, {}, "Resource not accessible by integration", FATAL, None),
    (403, {"retry-after": "1"}, "secondary rate limit", RATE_LIMITED, 1.0),
    (403, {"Retry-After": "soon"}, "", RATE_LIMITED, SECONDARY_WAIT_S),
    (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1010"}, "API rate limit exceeded", RATE_LIMITED, 11.0),
    (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "900"}, "", RATE_LIMITED, 0.0),
    (403, {}, "You have exceeded a secondary rate limit", RATE_LIMITED, SECONDARY_WAIT_S),
    (429, {"Retry-After": "99999999"}, "", RATE_LIMITED, 86400.0),
    (418, {}, "", FATAL, None),
])
def test_classify(status, headers, message, kind, wait):
    error = classify(status, headers, message, now=1000.0)
    assert (error.kind, error.wait_s) == (kind, wait)
    assert error.status == status


def test_rate_limit_wait_needs_a_sign():
    assert rate_limit_wait(None) is None
    assert rate_limit_wait({"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "5"}) is None


def test_error_text_names_kind_and_status():
    assert str(TrackerError("Bad credentials", FATAL, 401)) == "fatal (HTTP 401): Bad credentials"
    assert str(TrackerError("x" * 900)).startswith("retryable: xxx") and len(str(TrackerError("x" * 900))) < 520
