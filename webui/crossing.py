"""The threshold.crossed a staff member's "file a bug now" hands to bugbot, built from an ErrorGroup."""

from __future__ import annotations

from typing import Any

from contracts import ids
from contracts.events import ThresholdCrossed
from projector import conf, handlers
from projector.models import ErrorGroup, ErrorLog
from projector.store import to_ms


def group_row(group: ErrorGroup, signal_id: str) -> dict[str, Any]:
    """The group as the map projector.handlers.signal_event reads (times in epoch ms)."""
    row = {f.attname: getattr(group, f.attname) for f in ErrorGroup._meta.concrete_fields}
    row.update(signal_id=signal_id, signal_regression=False, first_seen=to_ms(group.first_seen),
               last_seen=to_ms(group.last_seen))
    return row


def event_for(group: ErrorGroup) -> ThresholdCrossed:
    """A fresh threshold.crossed for the group with its latest sample request (bugbot dedups by fingerprint)."""
    latest = ErrorLog.objects.filter(group_id=group.id).order_by("-timestamp")
    sample = latest.values("event_id", "request_data").first()
    return handlers.signal_event(group_row(group, ids.new_id()), conf.get()["THRESHOLD"], sample)
