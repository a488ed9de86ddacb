"""Plain factory functions for projector tests: events, stream entries, aggregate snapshots."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Iterable

from contracts import codec, ids
from contracts.events import ErrorObserved
from contracts.names import EVENT_FIELD, Names

BASE_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z, on an hour boundary


def fingerprint(n: int | str) -> str:
    """A valid fingerprint for a small number or name."""
    return hashlib.sha256(f"test-fingerprint-{n}".encode()).hexdigest()


def event(n: int | str = 0, ts: int = BASE_MS, cls: str = "app_error", status: int | None = None, **kw: Any) -> ErrorObserved:
    """An error.observed for pattern n at ts (epoch ms)."""
    status = status or {"app_error": 500, "csrf": 403, "not_found": 404, "broken_link": 404, "probe": 404,
                        "permission": 403, "client_error": 400}[cls]
    error_type = kw.pop("error_type", "csrf" if cls == "csrf" else str(status))
    path = kw.pop("path", f"/things/{n}/")
    fields: dict[str, Any] = dict(
        id=ids.new_id(ts), ts=ts, status=status, error_type=error_type, cls=cls, method="GET", path=path,
        url=f"http://site.test{path}", fingerprint=fingerprint(n), basis=f"v1|{status}|{error_type}|{n}",
        route=f"things/{n}/", request={"query": {"q": "x"}}, release="r1", environment="test",
    )
    if status >= 500:
        fields.update(exc_type="ValueError", exc_message=f"bad thing {n}", culprit=f"app.views:view_{n}",
                      frames=[{"module": "app.views", "function": f"view_{n}", "lineno": 10}])
    fields.update(kw)
    return ErrorObserved(**fields)


def xadd(client: Any, names: Names, events: Iterable[ErrorObserved]) -> list[str]:
    """Append events to their shard streams (pipelined); returns the entry ids."""
    pipe = client.pipeline(transaction=False)
    for ev in events:
        pipe.xadd(names.errors_for(ev.fingerprint), {EVENT_FIELD: codec.encode(ev)})
    return [i.decode() if isinstance(i, bytes) else i for i in pipe.execute()]


def expected(events: Iterable[ErrorObserved]) -> dict[str, int]:
    """fingerprint -> summed weight: what the groups' counts must be."""
    out: Counter = Counter()
    for ev in events:
        out[ev.fingerprint] += ev.weight
    return dict(out)


def counts(alias: str = "default") -> dict[str, int]:
    """fingerprint -> count as the database holds it."""
    from projector.models import ErrorGroup

    return dict(ErrorGroup.objects.using(alias).values_list("fingerprint", "count"))


def aggregates(alias: str = "default") -> dict[str, Any]:
    """Everything replay must reproduce: groups, hourly and class counts, samples, users."""
    from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog, GroupUser

    fields = ("fingerprint", "count", "users", "first_seen", "last_seen", "last_event_id", "sample_minute",
              "sample_count", "threshold_crossed_at", "signal_id", "state", "title", "basis")
    return {
        "groups": sorted(ErrorGroup.objects.using(alias).values_list(*fields)),
        "hourly": sorted(ErrorHourly.objects.using(alias).values_list("group__fingerprint", "hour", "count")),
        "classes": sorted(ClassHourly.objects.using(alias).values_list("cls", "hour", "count")),
        "samples": sorted(ErrorLog.objects.using(alias).values_list("event_id", "fingerprint", "stream_id")),
        "users": sorted(GroupUser.objects.using(alias).values_list("group__fingerprint", "key_hash")),
    }
