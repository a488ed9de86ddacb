"""What the dashboard calls: preview, file now, mark known, edit, retry, pattern issues, republish."""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from bugbot import bugids, conf, filing, registry, render
from bugbot.models import CreatedBy, Filing, KnownIssue, Status
from bugbot.trackers import TrackerError
from contracts.events import ThresholdCrossed
from contracts.known import MAX_MESSAGE

log = logging.getLogger(__name__)

_FINGERPRINT = re.compile(r"[0-9a-f]{64}\Z")
_ISSUE_URL = re.compile(r"https?://[^/\s]+/(?:[\w.-]+/)*?([\w.-]+/[\w.-]+)/issues/(\d+)/?(?:[#?].*)?\Z")


class ServiceError(ValueError):
    """A request the registry cannot honour (message meant for staff)."""


def preview(event: ThresholdCrossed | Mapping[str, Any]) -> tuple[str, str]:
    """The exact title and body filing this pattern would send (the next free id when it has none yet)."""
    wire = filing.payload_of(event)
    issue = KnownIssue.objects.filter(error_fingerprint=wire["fingerprint"]).first()
    if issue is None:
        bug_id = bugids.format_bug_id(bugids.peek())
        issue = KnownIssue(bug_id=bug_id, error_fingerprint=wire["fingerprint"], event=wire,
                           title=render.title(bug_id, wire))
    return filing.compose(issue)


def queue_filing(issue: KnownIssue) -> None:
    """Ask Celery to file it once the current transaction commits (the bugbot's retry tick covers a lost task)."""
    from bugbot import tasks

    key = issue.error_fingerprint or issue.bug_id

    def send() -> None:
        try:
            tasks.file_bug.delay(key)
        except Exception as exc:  # broker down: run_bugbot and the scan retry due filings anyway
            log.warning("bugbot: could not queue filing of %s: %s", issue.bug_id, exc)

    transaction.on_commit(send)


def request_filing(event: ThresholdCrossed | Mapping[str, Any], by_staff: bool = True) -> KnownIssue | None:
    """Record the pattern as a known issue (id allocated now) and queue its filing; staff requests skip the caps."""
    issue, what = filing.record(event, by_staff=by_staff)
    if issue is not None and what != filing.COVERED:
        queue_filing(issue)
    return issue


def parse_bug_ref(ref: str) -> tuple[int | None, str, int | None]:
    """(bug number, issue URL, issue number) from `B-12`, `B-012` or an issue URL; ServiceError otherwise."""
    ref = (ref or "").strip()
    number = bugids.parse_bug_number(ref.upper())
    if number is not None and re.fullmatch(rf"{conf.get()['BUG_PREFIX']}-\d+", ref.upper()):
        return number, "", None
    match = _ISSUE_URL.match(ref)
    if match:
        return None, ref, int(match.group(2))
    raise ServiceError(f"{ref[:60]!r} is neither a bug id like B-012 nor an issue URL")


def _resolve(ref: str) -> tuple[int | None, str, int | None]:
    """A bug ref with what the registry or the tracker knows about it."""
    number, url, issue_number = parse_bug_ref(ref)
    if number is not None:
        same = KnownIssue.objects.filter(bug_number=number).exclude(github_issue_url="").first()
        if same is not None:
            return number, same.github_issue_url, same.issue_number
        return number, "", None
    same = KnownIssue.objects.filter(github_issue_url=url).first() or KnownIssue.objects.filter(
        issue_number=issue_number, backend__in=("github", "gh")).first()
    if same is not None:
        return same.bug_number, url, issue_number
    try:
        number = bugids.parse_bug_number(filing.tracker().get(issue_number).title)
    except TrackerError as exc:
        log.info("bugbot: could not read issue %s: %s", issue_number, exc)
    return number, url, issue_number


def mark_known(target: str | tuple[str, str], bug_ref: str = "", message: str = "",
               event: ThresholdCrossed | Mapping[str, Any] | None = None) -> KnownIssue:
    """Mark a fingerprint (or an (error type, URL glob) pattern) as a known issue, linked to a bug ref if given."""
    if len(message or "") > MAX_MESSAGE:
        raise ServiceError(f"the message is longer than {MAX_MESSAGE} characters")
    if isinstance(target, str):
        if not _FINGERPRINT.match(target):
            raise ServiceError("not a fingerprint (64 hex characters)")
        fingerprint, error_type, glob = target, "", ""
    else:
        error_type, glob = (str(target[0]).strip(), str(target[1]).strip())
        if not error_type or not glob or len(error_type) > 32 or len(glob) > 512:
            raise ServiceError("a pattern needs an error type (at most 32 characters) and a URL glob (at most 512)")
        fingerprint = ""
    number, url, issue_number = _resolve(bug_ref) if bug_ref else (None, "", None)
    backend = filing.tracker().name if issue_number else ("" if not url else "external")
    wire = filing.payload_of(event) if event is not None else {}
    floor = 0 if number is not None else bugids.remote_floor.get(filing.tracker().highest_bug_number) or 0
    with transaction.atomic():
        bugids.lock()
        issue = KnownIssue.objects.filter(error_fingerprint=fingerprint).first() if fingerprint else None
        if number is None:
            number = issue.bug_number if issue is not None and issue.bug_number else bugids.allocate(floor)
        bug_id = bugids.format_bug_id(number)
        if not fingerprint and KnownIssue.objects.filter(error_fingerprint="", bug_id=bug_id).exists():
            raise ServiceError(f"{bug_id} already has a pattern")
        if issue is None:
            issue = KnownIssue(error_fingerprint=fingerprint, error_type=error_type, url_glob=glob,
                               created_by=CreatedBy.STAFF)
        issue.bug_id, issue.bug_number = bug_id, number
        issue.friendly_message = message or issue.friendly_message
        issue.event = wire or issue.event
        if wire:
            issue.title = render.title(bug_id, wire)
        elif not fingerprint:
            issue.title = render.pattern_title(bug_id, error_type, glob)
        if url or issue_number:
            issue.github_issue_url, issue.issue_number, issue.backend = url, issue_number, backend
            issue.filing_state, issue.last_error, issue.next_attempt_at = Filing.FILED, "", None
        elif issue.pk is None:
            issue.filing_state = Filing.NONE
        issue.save()
    return issue


def update(issue: KnownIssue, message: str | None = None, status: str | None = None) -> KnownIssue:
    """Change the friendly message and/or status; a status change is pushed to the tracker issue."""
    if message is not None and len(message) > MAX_MESSAGE:
        raise ServiceError(f"the message is longer than {MAX_MESSAGE} characters")
    if status is not None and status not in Status.values:
        raise ServiceError(f"unknown status {status[:20]!r}")
    with transaction.atomic():
        bugids.lock()
        issue = KnownIssue.objects.get(pk=issue.pk)
        pushed = status is not None and status != issue.status
        if message is not None:
            issue.friendly_message = message
        if pushed:
            issue.status = status
            issue.fixed_at = timezone.now() if status == Status.FIXED else None
        issue.save()
        if pushed and issue.issue_number and issue.backend in ("github", "gh"):
            from bugbot import tasks

            pk = issue.pk
            transaction.on_commit(lambda: _safely(tasks.push_state.delay, pk))
    return issue


def _safely(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # broker down: the next sync reports the tracker's state instead
        log.warning("bugbot: could not queue %s: %s", getattr(fn, "__name__", fn), exc)


def retry_failed(issue: KnownIssue) -> KnownIssue:
    """File a failed or held known issue again now, whatever the caps say (a staff member asked)."""
    if issue.filing_state not in (Filing.FAILED, Filing.HELD, Filing.PENDING, Filing.NONE):
        raise ServiceError(f"{issue.bug_id} is {issue.get_filing_state_display()}, not failed or held")
    with transaction.atomic():
        KnownIssue.objects.filter(pk=issue.pk).update(
            filing_state=Filing.PENDING, attempts=0, cap_exempt=True, last_error="", next_attempt_at=timezone.now(),
            updated_at=timezone.now())
        issue.refresh_from_db()
        queue_filing(issue)
    return issue


def create_pattern_issue(error_type: str, glob: str, message: str = "", bug_ref: str = "",
                         file: bool = False) -> KnownIssue:
    """A known issue for every error of a type on URLs matching a glob; filed as a new issue when asked."""
    issue = mark_known((error_type, glob), bug_ref, message)
    if file and not bug_ref:
        issue = retry_failed(issue)
    return issue


def republish_known_map() -> int | None:
    """Rebuild the live sites' known-issue map from the database."""
    return registry.republish()


def filing_counts() -> dict[str, int]:
    """How many known issues are in each filing state (for the dashboard's health panel)."""
    counts = {state: 0 for state in Filing.values}
    for row in KnownIssue.objects.values("filing_state").annotate(n=Count("id")):
        counts[row["filing_state"]] = row["n"]
    return counts


def backend_name() -> str:
    """The configured tracker backend."""
    return conf.get()["BUG_BACKEND"]
