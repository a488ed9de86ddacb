"""The stand-in's repository: issues, comments and labels, with GitHub's rules for editing them."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

STATES = ("open", "closed")
STATE_REASONS = ("completed", "not_planned", "reopened")
DEFAULT_SEED = ({"title": "B-001: CSRF trusted origins", "body": "Seeded by the stand-in.", "state": "closed",
                 "state_reason": "completed", "labels": ["bug"]},)


class Invalid(ValueError):
    """A request GitHub would refuse with 422 Validation Failed."""

    def __init__(self, field_name: str, code: str = "invalid", message: str = ""):
        super().__init__(message or f"{field_name} is {code}")
        self.field = field_name
        self.code = code


def iso(ts: float) -> str:
    """GitHub's timestamp format (UTC, whole seconds)."""
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 timestamp as GitHub accepts it (`Z` or an offset; naive means UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Invalid("since", message=f"invalid timestamp {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass
class Label:
    name: str
    id: int
    color: str = "ededed"
    description: str | None = None


@dataclass
class Comment:
    id: int
    issue_number: int
    body: str
    user: str
    created_at: float
    updated_at: float


@dataclass
class Issue:
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: float
    updated_at: float
    state: str = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    labels: list[str] = field(default_factory=list)
    comments: int = 0


class Repository:
    """One repository's issues, comments and labels; callers hold the stand-in's lock."""

    def __init__(self, full_name: str, login: str, clock: Callable[[], float] = time.time, repo_id: int = 4242):
        self.owner, _, self.name = full_name.partition("/")
        if not self.owner or not self.name or "/" in self.name:
            raise ValueError(f"repository must be owner/name, not {full_name!r}")
        self.id = repo_id
        self.login = login
        self.clock = clock
        self.issues: dict[int, Issue] = {}
        self.comments: list[Comment] = []
        self.labels: dict[str, Label] = {}
        self.creates = 0
        self._next_id = 1000

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def seed(self, issues=DEFAULT_SEED) -> None:
        """Put existing issues in place (they do not count as creates)."""
        for spec in issues:
            issue = self.create_issue(spec["title"], spec.get("body"), spec.get("labels", ()), count=False)
            if spec.get("state") == "closed":
                self.edit_issue(issue.number, {"state": "closed", "state_reason": spec.get("state_reason")})

    def label(self, name: str, color: str = "ededed", description: str | None = None) -> Label:
        """Return the label called `name` (case-insensitive), creating it if it does not exist."""
        found = self.find_label(name)
        if found is None:
            found = self.labels[name.lower()] = Label(name=name, id=self._new_id(), color=color, description=description)
        return found

    def find_label(self, name: str) -> Label | None:
        return self.labels.get(name.lower())

    def create_label(self, name, color="ededed", description=None) -> Label:
        """Create a label; an existing name is a 422 `already_exists` as on GitHub."""
        if not isinstance(name, str) or not name.strip():
            raise Invalid("name", "missing_field")
        if self.find_label(name) is not None:
            raise Invalid("name", "already_exists", f"Label {name!r} already exists")
        return self.label(name, color or "ededed", description)

    def _label_names(self, labels) -> list[str]:
        names = []
        for item in labels or ():
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name.strip():
                raise Invalid("labels", message=f"invalid label {item!r}")
            canonical = self.label(name).name
            if canonical not in names:
                names.append(canonical)
        return names

    def create_issue(self, title, body=None, labels=(), count: bool = True) -> Issue:
        """Open a new issue with the next number; labels that do not exist yet are created."""
        if not isinstance(title, str) or not title.strip():
            raise Invalid("title", "missing_field")
        if body is not None and not isinstance(body, str):
            raise Invalid("body")
        now = self.clock()
        number = max(self.issues, default=0) + 1
        issue = Issue(number=number, id=self._new_id(), title=title, body=body, user=self.login,
                      created_at=now, updated_at=now, labels=self._label_names(labels))
        self.issues[number] = issue
        if count:
            self.creates += 1
        return issue

    def get_issue(self, number: int) -> Issue | None:
        return self.issues.get(number)

    def edit_issue(self, number: int, changes: dict) -> Issue:
        """Apply a PATCH: title, body, state, state_reason, labels (GitHub's reopen/close rules)."""
        issue = self.issues[number]
        unknown_state = changes.get("state", issue.state) not in STATES
        if unknown_state or changes.get("state_reason") not in (None, *STATE_REASONS):
            raise Invalid("state" if unknown_state else "state_reason")
        if "title" in changes and (not isinstance(changes["title"], str) or not changes["title"].strip()):
            raise Invalid("title", "missing_field")
        if changes.get("body") is not None and not isinstance(changes["body"], str):
            raise Invalid("body")
        labels = self._label_names(changes["labels"]) if "labels" in changes else issue.labels
        issue.title = changes.get("title", issue.title)
        issue.body = changes.get("body", issue.body)
        issue.labels = labels
        self._change_state(issue, changes.get("state"), changes.get("state_reason"))
        issue.updated_at = self.clock()
        return issue

    def _change_state(self, issue: Issue, state: str | None, reason: str | None) -> None:
        if state == "closed" and issue.state != "closed":
            issue.state, issue.closed_at = "closed", self.clock()
            issue.state_reason = reason if reason in ("completed", "not_planned") else "completed"
        elif state == "closed" and reason in ("completed", "not_planned"):
            issue.state_reason = reason
        elif state == "open" and issue.state != "open":
            issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"

    def add_comment(self, number: int, body) -> Comment:
        """Comment on an issue (bumps its comment count and updated_at)."""
        if not isinstance(body, str) or not body.strip():
            raise Invalid("body", "missing_field")
        issue = self.issues[number]
        now = self.clock()
        comment = Comment(id=self._new_id(), issue_number=number, body=body, user=self.login,
                          created_at=now, updated_at=now)
        self.comments.append(comment)
        issue.comments += 1
        issue.updated_at = now
        return comment

    def comments_of(self, number: int) -> list[Comment]:
        return [c for c in self.comments if c.issue_number == number]

    def list_issues(self, state="open", labels=(), since: float | None = None, sort="created",
                    direction="desc") -> list[Issue]:
        """The issues listing's filters and order (`labels` must all be present)."""
        wanted = {name.lower() for name in labels}
        found = [
            issue for issue in self.issues.values()
            if (state == "all" or issue.state == state)
            and wanted <= {name.lower() for name in issue.labels}
            and (since is None or issue.updated_at >= since)
        ]
        key = {"created": lambda i: (i.created_at, i.number), "updated": lambda i: (i.updated_at, i.number),
               "comments": lambda i: (i.comments, i.number)}[sort]
        return sorted(found, key=key, reverse=direction == "desc")

    def snapshot(self) -> Repository:
        """A deep copy, safe to read without the lock."""
        clone = copy.copy(self)
        clone.issues = copy.deepcopy(self.issues)
        clone.comments = copy.deepcopy(self.comments)
        clone.labels = copy.deepcopy(self.labels)
        return clone
