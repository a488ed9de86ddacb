"""What the dashboard may change on a projection: a group's triage state (ignore, resolve, reopen)."""

from __future__ import annotations

from django.utils import timezone

from projector import conf
from projector.models import ErrorGroup

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

