"""Filing decisions (pure): claim, hold or skip; what a failure leads to; regressions; webhook statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bugbot.trackers import FATAL, RATE_LIMITED

CLAIM, HOLD, SKIP = "claim", "hold", "skip"
WAIT, RETRY, FAIL = "wait", "retry", "fail"
CLAIMABLE = ("pending", "held")


@dataclass(frozen=True)
class Caps:
    """Cap limits and how many new issues used them in the last hour and day."""

    per_hour: int
    per_day: int
    used_hour: int = 0
    used_day: int = 0

    @property
    def room(self) -> bool:
        """Whether one more new issue fits."""
        return self.used_hour < self.per_hour and self.used_day < self.per_day


@dataclass(frozen=True)
class Claim:
    """The filing-relevant state of one KnownIssue."""

    state: str
    next_attempt_at: datetime | None = None
    claimed_at: datetime | None = None
    counted: bool = False
    cap_exempt: bool = False
    needs_reopen: bool = False


def decide_claim(row: Claim, caps: Caps, now: datetime, lease_s: float) -> str:
    """CLAIM (start an attempt), HOLD (over the cap) or SKIP (filed, failed, not due, or another worker has it)."""
    if row.state == "filing":
        stale = row.claimed_at is None or now - row.claimed_at >= timedelta(seconds=lease_s)
        return CLAIM if stale else SKIP
    if row.state not in CLAIMABLE:
        return SKIP
    if row.state == "pending" and row.next_attempt_at is not None and row.next_attempt_at > now:
        return SKIP
    # Retries of an issue that already used a cap slot, reopens and staff requests never wait for room.
    if row.counted or row.cap_exempt or row.needs_reopen or caps.room:
        return CLAIM
    return HOLD


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Capped exponential delay before attempt `attempts + 1`."""
    return min(max_s, base_s * (2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class FailurePlan:
    """What to do after a failed attempt."""

    action: str
    delay_s: float = 0.0


def after_failure(kind: str, wait_s: float | None, attempts: int, max_attempts: int, base_s: float, max_s: float,
                  inline_cap_s: float, waited: bool) -> FailurePlan:
    """WAIT in place (a short rate limit, once), RETRY later (backoff or the limit's wait), or FAIL for good."""
    if kind == FATAL:
        return FailurePlan(FAIL)
    if kind == RATE_LIMITED:
        wait = max(0.0, wait_s or 0.0)
        if not waited and wait <= inline_cap_s:
            return FailurePlan(WAIT, wait)
        return FailurePlan(RETRY, max(wait, base_s))
    if attempts >= max_attempts:
        return FailurePlan(FAIL)
    return FailurePlan(RETRY, backoff_s(attempts, base_s, max_s))


def is_regression(status: str, fixed_at_ms: int, flagged: bool, last_seen_ms: int) -> bool:
    """A fixed known issue whose pattern recurs: the projector flags it, or it was seen after the fix."""
    return status == "fixed" and (flagged or last_seen_ms > fixed_at_ms)


def status_from_webhook(action: str, state_reason: str | None) -> str | None:
    """The KnownIssue status an `issues` webhook action means (None: no change)."""
    if action == "closed":
        return status_from_issue("closed", state_reason)
    if action == "reopened":
        return "open"
    return None


def status_from_issue(state: str, state_reason: str | None) -> str | None:
    """The KnownIssue status an issue's state means (None for a duplicate: the bug lives on elsewhere)."""
    if state == "closed":
        if state_reason == "duplicate":
            return None
        return "wontfix" if state_reason == "not_planned" else "fixed"
    return "open"
