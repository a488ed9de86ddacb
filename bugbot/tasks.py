"""Celery tasks: the periodic scan, filing one known issue, pushing a status to the tracker."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from bugbot import filing, scan, sync
from bugbot.celery import app as _app  # noqa: F401  (the app configured from Django settings is current)
from bugbot.models import KnownIssue
from bugbot.trackers import TrackerError

log = logging.getLogger(__name__)


@shared_task(name="bugbot.tasks.scan_errors", ignore_result=True)
def scan_errors() -> dict[str, Any]:
    """Run the scan steps once."""
    return scan.run()


@shared_task(name="bugbot.tasks.file_bug", ignore_result=True)
def file_bug(ref: str) -> str:
    """File (or retry) the known issue of a fingerprint, or of a bug id for a pattern."""
    issue = KnownIssue.objects.filter(error_fingerprint=ref).first() if len(ref) == 64 else None
    issue = issue or KnownIssue.objects.filter(bug_id=ref).order_by("id").first()
    if issue is None:
        log.warning("bugbot: file_bug: no known issue for %s", ref[:64])
        return "missing"
    return filing.attempt(issue.pk)


@shared_task(name="bugbot.tasks.push_state", ignore_result=True)
def push_state(pk: int) -> str:
    """Close or reopen the tracker issue to match the status staff set (a failure is logged and kept on the issue)."""
    try:
        return sync.push_state(pk, filing.tracker())
    except TrackerError as exc:
        log.warning("bugbot: could not push the status of known issue %s: %s", pk, exc)
        KnownIssue.objects.filter(pk=pk).update(last_error=f"status not pushed: {exc}"[:1000])
        return "failed"
