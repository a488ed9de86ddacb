"""The projector's steps of the periodic scan (called by dotted path; each takes no arguments, returns figures)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from django.db.models import Q

from contracts import known as known_map
from contracts.names import Names
from projector import conf, handlers, stream
from projector.announce import announce
from projector.handlers import order_key
from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog
from projector.store import Store, for_alias

log = logging.getLogger(__name__)

STEPS = ("projector.maintenance.resignal_missed", "projector.maintenance.prune", "projector.maintenance.trim_streams")


def _client(client: Any) -> Any:
    cfg = conf.get()
    return client or stream.connect(cfg["REDIS_URL"], cfg["PROJECTOR_SOCKET_TIMEOUT_S"], cfg["REDIS_CLUSTER"])


def resignal_missed(client: Any = None, store: Store | None = None, now_ms: int | None = None) -> dict[str, int]:
    """Publish signals that were committed but never sent, and re-send crossed groups nobody filed yet."""
    cfg, names = conf.get(), conf.names()
    client = _client(client)
    store = store or for_alias(cfg["DATABASE"])
    now_ms = now_ms or int(time.time() * 1000)
    limit = cfg["RESIGNAL_MAX"]
    groups = ErrorGroup.objects.using(store.alias)
    pending = list(groups.filter(signal_pending=True).order_by("id").values_list("id", flat=True)[:limit])
    due = groups.filter(
        threshold_crossed_at__isnull=False, state=ErrorGroup.UNRESOLVED, cls__in=cfg["BUG_CLASSES"],
        count__gte=cfg["THRESHOLD"], signal_pending=False)
    stale = Q(signalled_at__isnull=True)
    if cfg["RESIGNAL_AFTER_S"]:
        stale |= Q(signalled_at__lt=datetime.fromtimestamp(now_ms / 1000, timezone.utc)
                   - timedelta(seconds=cfg["RESIGNAL_AFTER_S"]))
    known = known_map.load(client, names)
    chosen = []
    for row in due.filter(stale).order_by("threshold_crossed_at", "id").values(
            "id", "fingerprint", "error_type", "path", "signal_id").iterator():
        if len(pending) + len(chosen) >= limit:
            break
        if handlers.covered(known, row["fingerprint"], row["error_type"], row["path"]) is None:
            chosen.append(row)
    for row in chosen:
        if not row["signal_id"]:  # crossed while ignored or covered: a new decision, a new id
            signal_id = handlers.derived_id(now_ms, f"{row['fingerprint']}:resignal:{now_ms}")
            groups.filter(id=row["id"], signal_id="").update(signal_id=signal_id, signal_regression=False)
    sent = announce(client, names, store, [*pending, *(r["id"] for r in chosen)], cfg["THRESHOLD"],
                    cfg["SIGNALS_MAXLEN"])
    return {"signals_pending": len(pending), "signals_due": len(chosen), "signals_sent": sent}


def _delete_before(model: Any, field: str, cutoff: datetime, alias: str, batch: int) -> int:
    deleted = 0
    while True:
        ids = list(model.objects.using(alias).filter(**{f"{field}__lt": cutoff}).values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += model.objects.using(alias).filter(id__in=ids).delete()[0]


def prune(now: datetime | None = None) -> dict[str, int]:
    """Delete samples and hourly counts past their retention (groups and their exact counts stay)."""
    cfg = conf.get()
    now = now or datetime.now(timezone.utc)
    alias, batch = cfg["DATABASE"], cfg["PRUNE_BATCH"]
    samples = now - timedelta(days=cfg["SAMPLE_RETENTION_DAYS"])
    hours = now - timedelta(days=cfg["HOURLY_RETENTION_DAYS"])
    return {
        "samples_pruned": _delete_before(ErrorLog, "timestamp", samples, alias, batch),
        "hours_pruned": _delete_before(ErrorHourly, "hour", hours, alias, batch)
        + _delete_before(ClassHourly, "hour", hours, alias, batch),
    }


def safe_floor(client: Any, key: str) -> tuple[int, int] | None:
    """The lowest id every consumer group still needs (its oldest pending entry, else its position); None: keep all."""
    try:
        groups = client.xinfo_groups(key)
    except redis.ResponseError:  # no such stream
        return None
    if not groups:
        return None  # nobody consumes it yet: everything is still unread
    floor = None
    for info in groups:
        needed = order_key(stream.text(info["last-delivered-id"]))
        if int(info.get("pending") or 0):
            oldest = client.xpending(key, info["name"]).get("min")
            if oldest is not None:
                needed = min(needed, order_key(stream.text(oldest)))
        floor = needed if floor is None else min(floor, needed)
    return floor


def trim_streams(client: Any = None, names: Names | None = None, now_ms: int | None = None) -> dict[str, int]:
    """XTRIM MINID the error and signals streams below every group's pending entries and position (keeping
    STREAM_RETENTION_DAYS for replay)."""
    cfg = conf.get()
    names = names or conf.names()
    client = _client(client)
    now_ms = now_ms or int(time.time() * 1000)
    keep = (now_ms - cfg["STREAM_RETENTION_DAYS"] * 86_400_000, 0)
    trimmed = 0
    for key in [*names.all_errors(), names.signals]:
        floor = safe_floor(client, key)
        if floor is None:
            continue
        floor = min(floor, keep)
        if floor > (0, 0):
            trimmed += int(client.xtrim(key, minid=f"{floor[0]}-{floor[1]}", approximate=False))
    return {"stream_entries_trimmed": trimmed}
