"""Filing: the KnownIssue and its bug id are committed first, then the tracker is called; retries adopt what exists."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from bugbot import bugids, conf, connection, policy, redact, registry, render
from bugbot.models import CreatedBy, Filing, KnownIssue, Status
from bugbot.trackers import RATE_LIMITED, RETRYABLE, IssueRef, Tracker, TrackerError, get_tracker
from contracts import codec, ids
from contracts.events import BugFailed, BugFiled, ThresholdCrossed
from contracts.known import KnownMap

log = logging.getLogger(__name__)

CREATED, EXISTS, REGRESSION, COVERED, REQUEUED = "created", "exists", "regression", "covered", "requeued"
LOOKBACK = timedelta(days=1)  # margin for clock skew between this host and the tracker in find_existing's `since`
_tracker: tuple[Any, Tracker] | None = None


class Unusable:
    """Stands in for a backend that cannot be built (bad settings): every call fails, nothing else does."""

    remote = True

    def __init__(self, name: str, error: TrackerError) -> None:
        self.name = name
        self.error = error

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return fail


def tracker() -> Tracker:
    """The configured backend (one per process, rebuilt when settings change)."""
    global _tracker
    cfg = conf.get()
    if _tracker is None or _tracker[0] is not cfg:
        try:
            backend: Any = get_tracker(cfg)
        except TrackerError as exc:
            log.error("bugbot: the %s backend is unusable: %s", cfg["BUG_BACKEND"], exc)
            backend = Unusable(cfg["BUG_BACKEND"], exc)
        _tracker = (cfg, backend)
    return _tracker[1]


def dashboard_link(template_key: str, **values: str) -> str:
    """A dashboard URL (absolute when DASHBOARD_URL is)."""
    cfg = conf.get()
    base = cfg["DASHBOARD_URL"] or "/"
    return base.rstrip("/") + "/" + cfg[template_key].format(**values).lstrip("/")


def issue_link(issue: KnownIssue) -> str:
    """Where an issue body points: the pattern's dashboard page, only when the dashboard URL is absolute."""
    if issue.is_pattern:
        link = dashboard_link("DASHBOARD_KNOWN_PATH", bug_id=issue.bug_id)
    else:
        link = dashboard_link("DASHBOARD_PATTERN_PATH", fingerprint=issue.error_fingerprint)
    return link if link.startswith(("http://", "https://")) else ""


def compose(issue: KnownIssue) -> tuple[str, str]:
    """The exact title and body a filing sends."""
    link = issue_link(issue)
    if issue.is_pattern:
        title = issue.title or render.pattern_title(issue.bug_id, issue.error_type, issue.url_glob)
        return title, render.pattern_body(issue.error_type, issue.url_glob, issue.friendly_message, link,
                                          issue.marker_key)
    return issue.title or render.title(issue.bug_id, issue.event), render.body(issue.event, link, issue.marker_key)


def payload_of(event: ThresholdCrossed | Mapping[str, Any]) -> dict[str, Any]:
    """The redacted wire map stored on a KnownIssue."""
    wire = codec.to_map(event) if isinstance(event, ThresholdCrossed) else dict(event)
    return redact.event_payload(wire)


def caps_at(now: datetime) -> policy.Caps:
    """The caps and their use in the hour and day before `now`."""
    cfg = conf.get()
    used = KnownIssue.objects.filter(counted_at__isnull=False)
    return policy.Caps(
        per_hour=cfg["MAX_BUGS_PER_HOUR"],
        per_day=cfg["MAX_BUGS_PER_DAY"],
        used_hour=used.filter(counted_at__gt=now - timedelta(hours=1)).count(),
        used_day=used.filter(counted_at__gt=now - timedelta(days=1)).count(),
    )


def _covering_pattern(wire: Mapping[str, Any]) -> KnownIssue | None:
    patterns = list(KnownIssue.objects.filter(error_fingerprint="", status=Status.OPEN))
    entries = {i.bug_id: i for i in patterns}
    match = KnownMap(e for e in (i.to_entry() for i in patterns) if e).match(
        str(wire.get("fingerprint")), str(wire.get("error_type")), str(wire.get("path") or "/"))
    return entries.get(match.bug_id) if match else None


def record(event: ThresholdCrossed | Mapping[str, Any], by_staff: bool = False,
           backend: Tracker | None = None) -> tuple[KnownIssue | None, str]:
    """The KnownIssue of a signal (created with its id, reopened on a regression, or as it was) and what happened."""
    wire = payload_of(event)
    fingerprint = wire["fingerprint"]
    floor = 0
    if not KnownIssue.objects.filter(error_fingerprint=fingerprint).exists():
        floor = bugids.remote_floor.get((backend or tracker()).highest_bug_number) or 0
    cfg = conf.get()
    with transaction.atomic():
        bugids.lock()
        issue = KnownIssue.objects.filter(error_fingerprint=fingerprint).first()
        if issue is not None:
            return issue, _again(issue, wire, by_staff)
        covering = None if by_staff else _covering_pattern(wire)
        if covering is not None:
            return covering, COVERED
        number = bugids.allocate(floor)
        bug_id = bugids.format_bug_id(number)
        issue = KnownIssue.objects.create(
            bug_id=bug_id, bug_number=number, title=render.title(bug_id, wire), error_fingerprint=fingerprint,
            friendly_message=cfg["DEFAULT_MESSAGE"], created_by=CreatedBy.STAFF if by_staff else CreatedBy.AUTO,
            cap_exempt=by_staff, filing_state=Filing.PENDING, next_attempt_at=timezone.now(), event=wire,
        )
    log.info("bugbot: %s recorded for %s", issue.bug_id, fingerprint[:12])
    return issue, CREATED


def _again(issue: KnownIssue, wire: dict, by_staff: bool) -> str:
    """A signal for a pattern already known: a regression, a staff request to file now, or nothing."""
    fixed_ms = int(issue.fixed_at.timestamp() * 1000) if issue.fixed_at else 0
    if policy.is_regression(issue.status, fixed_ms, bool(wire.get("regression")), int(wire.get("last_seen") or 0)):
        changes: dict[str, Any] = dict(status=Status.OPEN, fixed_at=None, regression_count=F("regression_count") + 1,
                                       event=wire, updated_at=timezone.now())
        if issue.filing_state == Filing.FILED:
            changes.update(filing_state=Filing.PENDING, needs_reopen=True, next_attempt_at=timezone.now(), attempts=0)
        if KnownIssue.objects.filter(pk=issue.pk, status=Status.FIXED).update(**changes):
            registry.changed(issue.pk)
            return REGRESSION
        return EXISTS
    if by_staff and issue.filing_state in (Filing.PENDING, Filing.HELD, Filing.FAILED, Filing.NONE):
        KnownIssue.objects.filter(pk=issue.pk).update(
            filing_state=Filing.PENDING, cap_exempt=True, attempts=0, next_attempt_at=timezone.now(),
            updated_at=timezone.now())
        return REQUEUED
    return EXISTS


def attempt(pk: int, backend: Tracker | None = None, sleep: Callable[[float], None] = time.sleep) -> str:
    """One filing attempt for a KnownIssue: claimed, then the tracker called outside any transaction."""
    cfg = conf.get()
    backend = backend or tracker()
    token = uuid.uuid4().hex
    with transaction.atomic():
        bugids.lock()
        issue = KnownIssue.objects.filter(pk=pk).first()
        if issue is None:
            return "missing"
        now = timezone.now()
        row = policy.Claim(issue.filing_state, issue.next_attempt_at, issue.claimed_at, issue.counted_at is not None,
                           issue.cap_exempt, issue.needs_reopen)
        decision = policy.decide_claim(row, caps_at(now), now, cfg["FILING_LEASE_S"])
        if decision == policy.SKIP:
            return "skipped"
        if decision == policy.HOLD:
            if issue.filing_state != Filing.HELD:
                KnownIssue.objects.filter(pk=pk).update(filing_state=Filing.HELD, updated_at=now,
                                                        last_error="held: the hourly or daily filing cap is reached")
            return "held"
        counted = issue.counted_at or (None if issue.needs_reopen else now)
        KnownIssue.objects.filter(pk=pk).update(filing_state=Filing.FILING, claimed_at=now, claim_token=token,
                                                attempts=F("attempts") + 1, counted_at=counted, updated_at=now)
    issue.attempts += 1
    waited = False
    while True:
        try:
            ref, adopted, reopened = _perform(issue, backend)
            return _filed(issue, token, ref, adopted, reopened, backend)
        except Exception as exc:
            error = exc if isinstance(exc, TrackerError) else TrackerError(f"{type(exc).__name__}: {exc}", RETRYABLE)
            if not isinstance(exc, TrackerError):
                log.exception("bugbot: unexpected error filing %s", issue.bug_id)
            plan = policy.after_failure(error.kind, error.wait_s, issue.attempts, cfg["FILING_MAX_ATTEMPTS"],
                                        cfg["FILING_BACKOFF_S"], cfg["FILING_BACKOFF_MAX_S"], cfg["GITHUB_MAX_WAIT_S"],
                                        waited)
            if plan.action != policy.WAIT:
                return _failed(issue, token, error, plan, backend)
            log.info("bugbot: %s rate limited, waiting %.1fs", issue.bug_id, plan.delay_s)
            waited = True
            sleep(plan.delay_s)


def _perform(issue: KnownIssue, backend: Tracker) -> tuple[IssueRef, bool, bool]:
    """Reopen, adopt the issue a lost answer made, or create: (issue, adopted, reopened)."""
    if issue.needs_reopen:
        if not issue.issue_number:
            return IssueRef(number=None, url=issue.github_issue_url), False, True
        comment = render.comment_regression(issue.bug_id, issue.event, issue.regression_count)
        marker = render.regression_marker(issue.marker_key, issue.regression_count)
        return backend.reopen(issue.issue_number, comment, marker), False, True
    since = issue.created_at - LOOKBACK
    found = backend.find_existing(render.marker(issue.marker_key), issue.marker_key, since, search=issue.attempts > 1)
    if found is not None:
        log.warning("bugbot: %s adopted existing issue %s", issue.bug_id, found.url)
        return found, True, False
    title, body = compose(_above_remote(issue, backend))
    return backend.create(title, body, conf.get()["LABELS"]), False, False


def _above_remote(issue: KnownIssue, backend: Tracker) -> KnownIssue:
    """The issue, renumbered first if its id was allocated while the tracker's own B-NNN were unknown."""
    if not backend.remote:
        return issue
    top = bugids.remote_max()
    if top is None:
        top = bugids.remote_floor.get(backend.highest_bug_number)
        if top is None:
            raise TrackerError("the repository's highest bug id cannot be read yet", RETRYABLE)
    if issue.bug_number is None or issue.bug_number > top:
        return issue
    with transaction.atomic():
        bugids.lock()
        number = bugids.allocate(top)
        bug_id = bugids.format_bug_id(number)
        title = render.pattern_title(bug_id, issue.error_type, issue.url_glob) if issue.is_pattern else render.title(
            bug_id, issue.event)
        KnownIssue.objects.filter(pk=issue.pk).update(bug_id=bug_id, bug_number=number, title=title,
                                                      updated_at=timezone.now())
        registry.changed(issue.pk, issue.map_key)
    log.warning("bugbot: %s renumbered %s: the repository already uses ids up to %s", issue.bug_id, bug_id,
                bugids.format_bug_id(top))
    issue.bug_id, issue.bug_number, issue.title = bug_id, number, title
    return issue


def _audit_fingerprint(issue: KnownIssue) -> str:
    return issue.error_fingerprint or hashlib.sha256(issue.marker_key.encode()).hexdigest()


def _filed(issue: KnownIssue, token: str, ref: IssueRef, adopted: bool, reopened: bool, backend: Tracker) -> str:
    url = ref.url or issue.github_issue_url or dashboard_link("DASHBOARD_KNOWN_PATH", bug_id=issue.bug_id)
    now = timezone.now()
    with transaction.atomic():
        done = KnownIssue.objects.filter(pk=issue.pk, claim_token=token).update(
            filing_state=Filing.FILED, issue_number=ref.number or issue.issue_number, github_issue_url=url[:1024],
            backend=backend.name, filed_at=issue.filed_at or now, last_error="", next_attempt_at=None,
            claim_token="", claimed_at=None, needs_reopen=False, updated_at=now)
        if not done:
            log.warning("bugbot: %s was taken over by another worker; its result stands", issue.bug_id)
            return "lost"
        registry.changed(issue.pk)
        event = BugFiled(id=ids.new_id(), ts=int(now.timestamp() * 1000), fingerprint=_audit_fingerprint(issue),
                         bug_id=issue.bug_id, issue_url=url[:1024], backend=backend.name, adopted=adopted,
                         reopened=reopened)
        transaction.on_commit(lambda: connection.emit(event))
    log.info("bugbot: %s %s %s", issue.bug_id, "reopened" if reopened else "adopted" if adopted else "filed", url)
    return "reopened" if reopened else "adopted" if adopted else "filed"


def _failed(issue: KnownIssue, token: str, error: TrackerError, plan: policy.FailurePlan, backend: Tracker) -> str:
    now = timezone.now()
    final = plan.action == policy.FAIL
    changes: dict[str, Any] = dict(last_error=str(error)[:1000], claim_token="", claimed_at=None, updated_at=now)
    if final:
        changes.update(filing_state=Filing.FAILED, next_attempt_at=None)
    else:
        changes.update(filing_state=Filing.PENDING, next_attempt_at=now + timedelta(seconds=plan.delay_s))
    attempts = issue.attempts
    if error.kind == RATE_LIMITED:
        changes["attempts"] = F("attempts") - 1  # waiting out a rate limit is not a failed attempt
        attempts = max(1, attempts - 1)
    with transaction.atomic():
        if not KnownIssue.objects.filter(pk=issue.pk, claim_token=token).update(**changes):
            return "lost"
        event = BugFailed(id=ids.new_id(), ts=int(now.timestamp() * 1000), fingerprint=_audit_fingerprint(issue),
                          bug_id=issue.bug_id, backend=backend.name, reason=str(error)[:1024], attempts=attempts,
                          final=final)
        transaction.on_commit(lambda: connection.emit(event))
    log.warning("bugbot: filing %s failed (%s): %s", issue.bug_id, "final" if final else "will retry", error)
    return "failed" if final else "retry"


def handle_signal(event: ThresholdCrossed, backend: Tracker | None = None) -> str:
    """A threshold.crossed signal: record it, then file (or reopen) at once when it is due."""
    issue, what = record(event, backend=backend)
    if issue is None or what == COVERED:
        return what
    if issue.filing_state in (Filing.FILED, Filing.FAILED, Filing.NONE) and what == EXISTS:
        return what
    return f"{what}:{attempt(issue.pk, backend)}"


def retry_due(backend: Tracker | None = None, limit: int = 100) -> dict[str, int]:
    """Attempt every filing that is due: pending past its time, held while there is room, abandoned claims."""
    now = timezone.now()
    lease = timedelta(seconds=conf.get()["FILING_LEASE_S"])
    due = (Q(filing_state=Filing.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))) | Q(
        filing_state=Filing.FILING, claimed_at__lte=now - lease)
    if caps_at(now).room:
        due |= Q(filing_state=Filing.HELD)
    pks = list(KnownIssue.objects.filter(due).order_by("bug_number", "id").values_list("pk", flat=True)[:limit])
    outcomes: Counter = Counter()
    for pk in pks:
        outcomes[attempt(pk, backend)] += 1
    return dict(outcomes)
