"""Issue trackers bugbot files into: the interface, the result and error types, and the backend factory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

RETRYABLE = "retryable"
RATE_LIMITED = "rate_limited"
FATAL = "fatal"


@dataclass(frozen=True)
class IssueRef:
    """An issue as a tracker reports it."""

    number: int | None
    url: str
    state: str = "open"
    state_reason: str | None = None
    title: str = ""
    body: str = ""


class TrackerError(Exception):
    """A tracker call failed: `kind` says whether to retry, `wait_s` how long a rate limit asks to wait."""

    def __init__(self, message: str, kind: str = RETRYABLE, status: int | None = None, wait_s: float | None = None):
        super().__init__(message[:500])
        self.kind = kind
        self.status = status
        self.wait_s = wait_s

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.kind}{status}: {self.args[0]}"


class Tracker(Protocol):
    """What every backend does; one module per backend holds all of its remote calls."""

    name: str
    remote: bool

    def find_existing(self, marker: str, key: str, since: datetime | None, search: bool = True) -> IssueRef | None:
        """The issue whose body carries `marker`: label listing first (read-after-write), then search by `key`."""

    def create(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        """Create an issue (called once per attempt, never retried blindly)."""

    def reopen(self, number: int, comment: str, comment_marker: str) -> IssueRef:
        """Reopen an issue and comment on it (the comment once, recognised by its marker)."""

    def set_state(self, number: int, state: str, reason: str | None = None) -> IssueRef:
        """Close (reason completed / not_planned) or reopen an issue."""

    def get(self, number: int) -> IssueRef:
        """One issue's current state."""

    def changed_since(self, since: datetime | None) -> list[IssueRef]:
        """Issues carrying the marker label updated since `since` (all of them when None)."""

    def highest_bug_number(self) -> int:
        """The highest B-NNN at the start of any issue title in the repository."""


def get_tracker(cfg: Mapping[str, Any] | None = None, **kwargs: Any) -> Tracker:
    """The backend the settings choose."""
    from bugbot import conf

    cfg = cfg or conf.get()
    backend = cfg["BUG_BACKEND"]
    if backend == "github":
        from bugbot.trackers.github import GitHubTracker

        return GitHubTracker(cfg, **kwargs)
    if backend == "gh":
        from bugbot.trackers.gh import GhTracker

        return GhTracker(cfg, **kwargs)
    from bugbot.trackers.local import LocalTracker

    return LocalTracker()
