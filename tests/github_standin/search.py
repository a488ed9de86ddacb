"""The subset of GitHub's issue search syntax the stand-in understands (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .state import Comment, Issue

TOKEN = re.compile(r'(-?)(?:([a-z_-]+):)?(?:"([^"]*)"|(\S+))', re.IGNORECASE)
FIELDS = ("title", "body", "comments")


class QueryError(ValueError):
    """A query GitHub would answer with 422 Validation Failed."""


@dataclass
class Query:
    terms: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    repos: list[str] = field(default_factory=list)
    state: str | None = None
    fields: set[str] = field(default_factory=set)
    labels: list[str] = field(default_factory=list)
    without_labels: list[str] = field(default_factory=list)


def _qualifier(query: Query, name: str, value: str, negated: bool) -> None:
    name = name.lower()
    lowered = value.lower()
    if name == "label":
        (query.without_labels if negated else query.labels).append(lowered)
    elif negated:
        raise QueryError(f"the stand-in does not support -{name}:")
    elif name == "is" and lowered in ("issue", "pr", "pull-request"):
        query.kinds.add("pr" if lowered != "issue" else "issue")
    elif (name == "is" or name == "state") and lowered in ("open", "closed"):
        query.state = lowered
    elif name == "repo":
        query.repos.append(lowered)
    elif name == "in" and lowered in FIELDS:
        query.fields.add(lowered)
    elif name == "type" and lowered in ("issue", "pr"):
        query.kinds.add(lowered)
    else:
        raise QueryError(f"the stand-in does not support the qualifier {name}:{value}")


def parse(q: str) -> Query:
    """Parse `q`; like GitHub, refuse a query that names neither `is:issue` nor `is:pr`."""
    query = Query()
    for negated, name, quoted, bare in TOKEN.findall(q or ""):
        value = quoted if quoted or not bare else bare
        if name:
            _qualifier(query, name, value, bool(negated))
        elif value.upper() in ("AND", "OR", "NOT") or negated:
            raise QueryError(f"the stand-in does not support boolean operators ({negated or value})")
        elif value:
            query.terms.append(value.lower())
    if not query.kinds:
        raise QueryError("Query must include 'is:issue' or 'is:pull-request'")
    return query


def matches(query: Query, issue: Issue, comments: list[Comment], full_name: str) -> bool:
    """Whether `issue` of `full_name` is a hit: every term in one of the searched fields, every label."""
    if "issue" not in query.kinds:
        return False
    if query.repos and full_name.lower() not in query.repos:
        return False
    if query.state and issue.state != query.state:
        return False
    labels = {name.lower() for name in issue.labels}
    if any(name not in labels for name in query.labels) or any(name in labels for name in query.without_labels):
        return False
    fields = query.fields or {"title", "body"}
    texts = []
    if "title" in fields:
        texts.append(issue.title.lower())
    if "body" in fields:
        texts.append((issue.body or "").lower())
    if "comments" in fields:
        texts.extend(comment.body.lower() for comment in comments)
    return all(any(term in text for text in texts) for term in query.terms)
