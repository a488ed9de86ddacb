"""What the dashboard may do with groups: change their state, and build the signal for "file a bug now"."""

from __future__ import annotations

import time

from django.utils import timezone

from contracts.events import ThresholdCrossed
from projector import conf, handlers
from projector.models import ErrorGroup
from projector.store import for_alias

STATES = {state for state, _ in ErrorGroup.STATES}


def set_state(group_id: int, state: str) -> bool:
    """Mark a group unresolved, ignored or resolved (a resolved group that recurs regresses); False if missing."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    alias = conf.get()["DATABASE"]
    changed = ErrorGroup.objects.using(alias).filter(id=group_id).exclude(state=state).update(
        state=state, state_changed_at=timezone.now())
    return changed == 1 or ErrorGroup.objects.using(alias).filter(id=group_id).exists()


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
