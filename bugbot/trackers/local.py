"""The local backend: no remote, the issue exists only in errortrail (the demo's offline default)."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from bugbot.trackers import IssueRef


class LocalTracker:
    """Every call succeeds at once; the KnownIssue row is the issue, its dashboard page the link."""

    name = "local"
    remote = False

    def find_existing(self, marker: str, key: str, since: datetime | None, search: bool = True) -> IssueRef | None:
        """Nothing exists outside errortrail."""
        return None

    def create(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        """An issue with no number; the caller links it to the dashboard."""
        return IssueRef(number=None, url="", title=title)

    def reopen(self, number: int, comment: str, comment_marker: str) -> IssueRef:
        """Nothing to reopen remotely."""
        return IssueRef(number=number, url="", state="open")

    def set_state(self, number: int, state: str, reason: str | None = None) -> IssueRef:
        """Nothing to change remotely."""
        return IssueRef(number=number, url="", state=state, state_reason=reason)

    def get(self, number: int) -> IssueRef:
        """Unknown remotely: reported open."""
        return IssueRef(number=number, url="")

    def changed_since(self, since: datetime | None) -> list[IssueRef]:
        """Nothing changes remotely."""
        return []

    def highest_bug_number(self) -> int:
        """No remote titles."""
        return 0
