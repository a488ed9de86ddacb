"""The github backend: every PyGithub call bugbot makes, with creations never retried and errors classified."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Issue import Issue

from bugbot.bugids import parse_bug_number
from bugbot.trackers import IssueRef, TrackerError
from bugbot.trackers.errors import classify

log = logging.getLogger(__name__)
T = TypeVar("T")
LISTING_LIMIT = 500
SEARCH_LIMIT = 50


class ReadRetry(GithubRetry):
    """GithubRetry for idempotent reads only; a Retry-After longer than the cap is raised, not slept."""

    def __init__(self, cap_s: float = 60.0, **kwargs: Any) -> None:
        self.cap_s = cap_s
        super().__init__(**kwargs)

    def new(self, **kwargs: Any) -> "ReadRetry":
        kwargs["cap_s"] = self.cap_s
        return super().new(**kwargs)

    def sleep_for_retry(self, response: Any = None) -> bool:
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and wait > self.cap_s:
            raise GithubException(response.status, {"message": f"Retry-After {wait:g}s is over the cap"},
                                  dict(response.headers))
        return super().sleep_for_retry(response)


def make_client(cfg: Mapping[str, Any]) -> Github:
    """A PyGithub client: reads retried (connection errors, 5xx, rate limits within the cap), writes never."""
    retry = ReadRetry(
        cap_s=cfg["GITHUB_MAX_WAIT_S"],
        total=cfg["GITHUB_READ_RETRIES"],
        backoff_factor=0.5,
        status_forcelist=[500, 502, 503, 504],
        allowed_methods=frozenset({"GET", "HEAD"}),
        max_rate_limit_wait=cfg["GITHUB_MAX_WAIT_S"],
        raise_on_status=False,
    )
    throttle = cfg.get("GITHUB_THROTTLE", True)
    return Github(
        base_url=cfg["GITHUB_API_URL"],
        auth=Auth.Token(cfg["GITHUB_TOKEN"]),
        timeout=int(max(1, cfg["GITHUB_TIMEOUT_S"])),
        retry=retry,
        lazy=True,
        seconds_between_requests=0.25 if throttle else None,
        seconds_between_writes=1.0 if throttle else None,
    )


def _ref(issue: Issue) -> IssueRef:
    return IssueRef(
        number=issue.number,
        url=issue.html_url,
        state=issue.state,
        state_reason=issue.state_reason,
        title=issue.title or "",
        body=issue.body or "",
    )


class GitHubTracker:
    """Issues of one repository through the REST API."""

    name = "github"
    remote = True

    def __init__(self, cfg: Mapping[str, Any], client: Github | None = None, clock: Callable[[], float] = time.time):
        if not cfg["GITHUB_REPO"] or "/" not in cfg["GITHUB_REPO"]:
            raise TrackerError("GITHUB_REPO must be owner/name", "fatal")
        if not cfg["GITHUB_TOKEN"]:
            raise TrackerError("GITHUB_TOKEN is not set", "fatal")
        self.cfg = cfg
        self.repo_name = cfg["GITHUB_REPO"]
        self.marker_label = cfg["MARKER_LABEL"]
        self.client = client or make_client(cfg)
        self.repo = self.client.get_repo(self.repo_name)
        self.clock = clock

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one PyGithub operation, turning every failure into a classified TrackerError."""
        try:
            return fn()
        except TrackerError:
            raise
        except GithubException as exc:
            message = exc.data.get("message", "") if isinstance(exc.data, dict) else str(exc.data or "")
            raise classify(exc.status, exc.headers, f"{what}: {message}", self.clock()) from None
        except requests.exceptions.RetryError as exc:
            raise classify(None, None, f"{what}: retries exhausted ({type(exc).__name__})") from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise classify(None, None, f"{what}: {type(exc).__name__}: {exc}") from None
        except AssertionError as exc:  # PyGithub asserts on answers it cannot parse (a broken proxy, a stand-in)
            raise classify(None, None, f"{what}: unexpected answer ({exc})") from None

    def _first(self, issues: Iterable[Issue], marker: str, limit: int) -> IssueRef | None:
        for index, issue in enumerate(issues):
            if index >= limit:
                break
            if marker in (issue.body or ""):
                return _ref(issue)
        return None

    def find_existing(self, marker: str, key: str, since: datetime | None, search: bool = True) -> IssueRef | None:
        """Listing by the marker label (read-after-write), then search for the key (eventually consistent)."""
        kwargs: dict[str, Any] = {"state": "all", "labels": [self.marker_label], "sort": "created", "direction": "desc"}
        if since is not None:
            kwargs["since"] = since
        found = self._call("list issues", lambda: self._first(self.repo.get_issues(**kwargs), marker, LISTING_LIMIT))
        if found or not search:
            return found
        query = f'"{key}" repo:{self.repo_name} is:issue in:body'
        return self._call("search issues", lambda: self._first(self.client.search_issues(query), marker, SEARCH_LIMIT))

    def create(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        """POST one issue (no automatic retry: a lost answer is found by find_existing next time)."""
        return self._call("create issue", lambda: _ref(self.repo.create_issue(title=title, body=body,
                                                                               labels=list(labels))))

    def reopen(self, number: int, comment: str, comment_marker: str) -> IssueRef:
        """Reopen, then comment unless a comment with the marker is already there."""

        def run() -> IssueRef:
            issue = self.repo.get_issue(number)
            if issue.state != "open":
                issue.edit(state="open")
            if not any(comment_marker in (c.body or "") for c in issue.get_comments()):
                issue.create_comment(comment)
            return _ref(issue)

        return self._call("reopen issue", run)

    def set_state(self, number: int, state: str, reason: str | None = None) -> IssueRef:
        """Close with a reason, or reopen."""

        def run() -> IssueRef:
            issue = self.repo.get_issue(number)
            if state == "closed":
                issue.edit(state="closed", state_reason=reason or "completed")
            else:
                issue.edit(state="open")
            return _ref(issue)

        return self._call("edit issue", run)

    def get(self, number: int) -> IssueRef:
        """One issue."""
        return self._call("get issue", lambda: _ref(self.repo.get_issue(number)))

    def changed_since(self, since: datetime | None) -> list[IssueRef]:
        """Labelled issues updated since `since`."""
        kwargs: dict[str, Any] = {"state": "all", "labels": [self.marker_label]}
        if since is not None:
            kwargs["since"] = since
        return self._call("list issues", lambda: [_ref(i) for i in self.repo.get_issues(**kwargs)])

    def highest_bug_number(self) -> int:
        """The highest B-NNN title among the repository's most recent issues."""

        def run() -> int:
            top = 0
            for index, issue in enumerate(self.repo.get_issues(state="all", sort="created", direction="desc")):
                if index >= self.cfg["SEED_SCAN_MAX_ISSUES"]:
                    break
                top = max(top, parse_bug_number(issue.title or "", self.cfg["BUG_PREFIX"]) or 0)
            return top

        return self._call("list issues", run)
