"""What the dashboard may do with groups: triage them (ignore, resolve, reopen), and build "file a bug now"."""

from __future__ import annotations

import time

from django.utils import timezone

from contracts.events import ThresholdCrossed
from projector import conf, handlers
from projector.models import ErrorGroup
from projector.store import for_alias

ACTIONS = {"ignore": ErrorGroup.IGNORED, "resolve": ErrorGroup.RESOLVED, "reopen": ErrorGroup.UNRESOLVED}


def set_state(group_id: int, state: str) -> bool:
    """Set a group's state (one UPDATE, so a concurrent batch's conditional regression update still applies)."""
    if state not in dict(ErrorGroup.STATES):
        raise ValueError(f"unknown state {state[:20]!r}")
    updated = ErrorGroup.objects.using(conf.get()["DATABASE"]).filter(pk=group_id).exclude(state=state).update(
        state=state, state_changed_at=timezone.now())
    return bool(updated)


def apply_action(group_id: int, action: str) -> bool:
    """ignore / resolve / reopen a group; False when it was already in that state."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action[:20]!r}")
    return set_state(group_id, ACTIONS[action])


def signal_for(group_id: int, now_ms: int | None = None) -> ThresholdCrossed:
    """The threshold.crossed for a group as it stands (its pending signal's id, or a new one): for bugbot's service."""
    cfg = conf.get()
    [row] = for_alias(cfg["DATABASE"]).group_rows([group_id]) or [None]
    if row is None:
        raise ErrorGroup.DoesNotExist(f"no error group {group_id}")
    if not row["signal_id"] or not row["signal_pending"]:
        now_ms = now_ms or int(time.time() * 1000)
        row["signal_id"] = handlers.derived_id(now_ms, f"{row['fingerprint']}:manual:{now_ms}")
        row["signal_regression"] = False
    return handlers.signal_event(row, cfg["THRESHOLD"], row["sample"])
