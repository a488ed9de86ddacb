"""Which known issue covers a group (exact fingerprint, else a pattern as the live site matches it), and page views."""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import Any, Iterable

from bugbot.models import KnownIssue
from contracts.known import KnownMap, specificity
from projector import conf
from projector.models import ErrorGroup
from webui import connection

log = logging.getLogger(__name__)
MAX_PATTERNS = 1000


class Coverage:
    """Pattern known issues loaded once, matched against any number of groups."""

    def __init__(self, patterns: Iterable[KnownIssue]) -> None:
        self.patterns = list(patterns)
        by_bug = {issue.bug_id: issue for issue in self.patterns}
        entries = [e for e in (issue.to_entry() for issue in self.patterns) if e is not None]
        self._open = KnownMap(entries)
        self._by_bug = by_bug
        self._ranked = sorted(self.patterns, key=lambda i: (-specificity(i.url_glob), i.error_type == "*", i.bug_id))

    def match(self, error_type: str, path: str) -> KnownIssue | None:
        """The open pattern the live site would show for this error, else a fixed or won't-fix one that covers it."""
        entry = self._open.match("", error_type, path)
        if entry is not None:
            return self._by_bug.get(entry.bug_id)
        for issue in self._ranked:
            if issue.error_type in ("*", error_type) and fnmatchcase(path, issue.url_glob):
                return issue
        return None


def coverage() -> Coverage:
    """Every pattern known issue (bounded)."""
    return Coverage(KnownIssue.objects.filter(error_fingerprint="").order_by("id")[:MAX_PATTERNS])


def covering(groups: Iterable[ErrorGroup], patterns: Coverage | None = None) -> dict[int, KnownIssue]:
    """group id -> its known issue, for the groups that have one (two queries for any number of groups)."""
    groups = list(groups)
    if not groups:
        return {}
    rows = KnownIssue.objects.filter(error_fingerprint__in=[g.fingerprint for g in groups])
    exact = {issue.error_fingerprint: issue for issue in rows}
    patterns = patterns or coverage()
    out = {}
    for group in groups:
        issue = exact.get(group.fingerprint) or patterns.match(group.error_type, group.path or "/")
        if issue is not None:
            out[group.id] = issue
    return out


def views() -> dict[str, int] | None:
    """bug id -> how many error pages named it (None when Redis does not answer)."""
    try:
        raw = connection.client().hgetall(conf.names().known_views)
    except connection.ERRORS as exc:
        log.warning("webui: could not read known-issue page views: %s", exc)
        return None
    return {_text(k): _int(v) for k, v in raw.items()}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
