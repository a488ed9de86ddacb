"""Tracker state flowing back: webhook deliveries and the periodic sync set KnownIssue statuses."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from bugbot import conf, connection, policy, registry
from bugbot.models import Filing, KnownIssue, ProcessedDelivery
from bugbot.trackers import Tracker

log = logging.getLogger(__name__)
SYNC_FIELD = "bugbot:sync_ms"
SYNC_OVERLAP = timedelta(minutes=5)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `X-Hub-Signature-256` is `sha256=` + HMAC-SHA256(secret, body) (constant-time compare)."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8", "replace"))


def set_status(issue_number: int, status: str | None) -> int:
    """Apply a tracker-side status to the filed known issues of that issue number; how many changed."""
    if status is None:
        return 0
    changed = 0
    now = timezone.now()
    rows = KnownIssue.objects.filter(issue_number=issue_number, backend__in=("github", "gh"),
                                     filing_state=Filing.FILED, needs_reopen=False).exclude(status=status)
    for issue in rows:
        fixed_at = (issue.fixed_at or now) if status == "fixed" else None
        changed += KnownIssue.objects.filter(pk=issue.pk, status=issue.status).update(
            status=status, fixed_at=fixed_at, updated_at=now)
        registry.changed(issue.pk)
    return changed


def apply_delivery(delivery_id: str, event: str, payload: Mapping[str, Any]) -> str:
    """Apply one `issues` webhook delivery once (by delivery id); the outcome in a word."""
    action = str(payload.get("action") or "")
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else {}
    repo = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    expected = conf.get()["GITHUB_REPO"].lower()
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedDelivery.objects.create(delivery_id=delivery_id, event=event[:32], action=action[:32])
        except IntegrityError:
            return "duplicate"
        if event != "issues":
            outcome = "ignored"
        elif expected and str(repo.get("full_name") or "").lower() != expected:
            outcome = "other-repository"
        elif not isinstance(issue.get("number"), int):
            outcome = "no-issue"
        else:
            status = policy.status_from_webhook(action, issue.get("state_reason"))
            outcome = f"{status or 'unchanged'}:{set_status(issue['number'], status)}"
        ProcessedDelivery.objects.filter(delivery_id=delivery_id).update(outcome=outcome[:64])
    return outcome


def sync_from_tracker(backend: Tracker) -> dict[str, int]:
    """Pull issue states changed since the last sync (for sites the webhook cannot reach)."""
    if not backend.remote:
        return {"skipped": 1}
    client, key = connection.client(), conf.names().scan_state
    raw = client.hget(key, SYNC_FIELD)
    started = timezone.now()
    since = None
    if raw:
        since = datetime.fromtimestamp(int(raw) / 1000, tz=dt_timezone.utc) - SYNC_OVERLAP
    seen, changed = 0, 0
    for ref in backend.changed_since(since):
        if ref.number is not None:
            seen += 1
            changed += set_status(ref.number, policy.status_from_issue(ref.state, ref.state_reason))
    # Issues staff linked by hand may lack the marker label: ask for each open one.
    linked = KnownIssue.objects.filter(created_by="staff", filing_state=Filing.FILED, issue_number__isnull=False,
                                       backend__in=("github", "gh"), status="open")
    for number in set(linked.values_list("issue_number", flat=True)[:50]):
        ref = backend.get(number)
        seen += 1
        changed += set_status(number, policy.status_from_issue(ref.state, ref.state_reason))
    client.hset(key, SYNC_FIELD, int(started.timestamp() * 1000))
    return {"seen": seen, "changed": changed}


def push_state(pk: int, backend: Tracker) -> str:
    """Make the tracker issue match a status staff set in errortrail (close as completed / not planned, reopen)."""
    issue = KnownIssue.objects.filter(pk=pk).first()
    if issue is None or not issue.issue_number or issue.backend not in ("github", "gh"):
        return "nothing"
    if issue.status == "open":
        ref = backend.set_state(issue.issue_number, "open")
    else:
        ref = backend.set_state(issue.issue_number, "closed", "completed" if issue.status == "fixed" else "not_planned")
    return ref.state


def prune_deliveries() -> int:
    """Forget webhook delivery ids older than the retention."""
    cutoff = timezone.now() - timedelta(days=conf.get()["DELIVERY_RETENTION_DAYS"])
    return ProcessedDelivery.objects.filter(received_at__lt=cutoff).delete()[0]
