"""Fixtures for bugbot tests: fakeredis behind bugbot's client, settings, and a recording tracker."""

from __future__ import annotations

from typing import Any, Sequence

import fakeredis
import pytest

from bugbot.trackers import IssueRef, TrackerError
from bugbot.trackers.local import LocalTracker


@pytest.fixture
def bugbot_env(settings, fake_server, monkeypatch):
    """Bugbot wired to an in-memory Redis and the local backend; returns the fakeredis client."""
    from bugbot import bugids, connection, filing

    monkeypatch.setattr(connection, "make_client", lambda url: fakeredis.FakeRedis(server=fake_server))
    settings.ERRORTRAIL = {
        **settings.ERRORTRAIL, "BUG_BACKEND": "local", "DASHBOARD_URL": "https://site.test/errors/",
        "FILING_BACKOFF_S": 0.0, "GITHUB_MAX_WAIT_S": 0.0,
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"  # never the shared Redis, whatever a test does
    connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()
    yield fakeredis.FakeRedis(server=fake_server)
    connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()


class FakeTracker(LocalTracker):
    """A remote-looking tracker in memory whose failures a test scripts (for component tests of filing)."""

    name = "github"
    remote = True

    def __init__(self, highest: int = 0) -> None:
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[str]] = {}
        self.highest = highest
        self.fail: list[Exception] = []
        self.fail_after_create: list[Exception] = []
        self.calls: list[str] = []

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def _ref(self, number: int) -> IssueRef:
        issue = self.issues[number]
        return IssueRef(number=number, url=f"https://github.test/o/r/issues/{number}", state=issue["state"],
                        state_reason=issue.get("state_reason"), title=issue["title"], body=issue["body"])

    def find_existing(self, marker, key, since, search=True):
        self.calls.append(f"find:{search}")
        self._maybe_fail()
        for number, issue in self.issues.items():
            if marker in issue["body"]:
                return self._ref(number)
        return None

    def create(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        self.calls.append("create")
        self._maybe_fail()
        number = len(self.issues) + 1
        self.issues[number] = {"title": title, "body": body, "labels": list(labels), "state": "open"}
        if self.fail_after_create:
            raise self.fail_after_create.pop(0)
        return self._ref(number)

    def reopen(self, number, comment, comment_marker):
        self.calls.append("reopen")
        self._maybe_fail()
        self.issues[number]["state"] = "open"
        if not any(comment_marker in c for c in self.comments.get(number, [])):
            self.comments.setdefault(number, []).append(comment)
        return self._ref(number)

    def set_state(self, number, state, reason=None):
        self.calls.append(f"state:{state}:{reason}")
        self._maybe_fail()
        self.issues[number].update(state=state, state_reason=reason)
        return self._ref(number)

    def get(self, number):
        self._maybe_fail()
        return self._ref(number)

    def changed_since(self, since):
        self._maybe_fail()
        return [self._ref(n) for n, issue in self.issues.items() if "errortrail" in issue["labels"]]

    def highest_bug_number(self) -> int:
        if isinstance(self.highest, Exception):
            raise self.highest
        return self.highest


@pytest.fixture
def fake_tracker(bugbot_env, monkeypatch):
    """A FakeTracker that filing uses as the configured backend."""
    from bugbot import filing

    tracker = FakeTracker()
    monkeypatch.setattr(filing, "tracker", lambda: tracker)
    return tracker


def down(status: int | None = 502) -> TrackerError:
    """A retryable tracker failure."""
    return TrackerError("down", "retryable", status)
