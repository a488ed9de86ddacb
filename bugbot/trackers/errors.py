"""Classifying GitHub answers into retryable, rate-limited (with a wait) and fatal (pure)."""

from __future__ import annotations

import time
from typing import Any, Mapping

from bugbot.trackers import FATAL, RATE_LIMITED, RETRYABLE, TrackerError

SECONDARY_WAIT_S = 60.0
MAX_WAIT_S = 24 * 3600.0
FATAL_STATUSES = {400, 401, 404, 410, 422}


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return None


def rate_limit_wait(headers: Mapping[str, Any] | None, message: str = "", now: float | None = None) -> float | None:
    """Seconds a rate-limited answer asks to wait (Retry-After, else X-RateLimit-Reset); None when it is not one."""
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_WAIT_S)
        except ValueError:
            return SECONDARY_WAIT_S
    remaining, reset = _header(headers, "X-RateLimit-Remaining"), _header(headers, "X-RateLimit-Reset")
    if remaining == "0" and reset and reset.isdigit():
        now = time.time() if now is None else now
        return min(max(int(reset) - now + 1, 0.0), MAX_WAIT_S)
    if "rate limit" in (message or "").lower():
        return SECONDARY_WAIT_S
    return None


def classify(status: int | None, headers: Mapping[str, Any] | None = None, message: str = "",
             now: float | None = None) -> TrackerError:
    """The TrackerError for an HTTP status (None: no answer at all) and its headers and message."""
    text = (message or "").strip() or "no message"
    if status is None:
        return TrackerError(text, RETRYABLE)
    if status in (403, 429) or (status == 503 and _header(headers, "Retry-After")):
        wait = rate_limit_wait(headers, text, now)
        if wait is not None:
            return TrackerError(text, RATE_LIMITED, status, wait)
        if status == 403:
            return TrackerError(text, FATAL, status)
    if status in FATAL_STATUSES or (400 <= status < 500 and status not in (408, 409, 429)):
        return TrackerError(text, FATAL, status)
    return TrackerError(text, RETRYABLE, status)
