"""Plain factories for dashboard tests: events run through the real projector, or rows written directly."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from contracts import codec, ids
from contracts.events import ErrorObserved
from contracts.names import EVENT_FIELD

HOUR_MS = 3_600_000


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def fingerprint(seed: Any) -> str:
    """A valid fingerprint for any seed."""
    return hashlib.sha256(f"webui-{seed}".encode()).hexdigest()


def event(seed: Any = "a", ts: int | None = None, cls: str = "app_error", **kw: Any) -> ErrorObserved:
    """An error.observed of pattern `seed` (a 500 with an exception unless cls says otherwise)."""
    ts = ts if ts is not None else now_ms()
    status = kw.pop("status", {"app_error": 500, "csrf": 403, "not_found": 404, "broken_link": 404, "probe": 404,
                               "permission": 403, "client_error": 400}[cls])
    path = kw.pop("path", f"/things/{seed}/")
    fields: dict[str, Any] = dict(
        id=ids.new_id(ts), ts=ts, status=status, error_type="csrf" if cls == "csrf" else str(status), cls=cls,
        method="GET", path=path, url=f"http://site.test{path}", fingerprint=fingerprint(seed),
        basis=f"v1|{status}|{seed}", route=f"things/<int:pk>/{seed}/", request={"query": {"q": "x"}},
        release="r1", environment="test", user_id="7", user_name="alice",
    )
    if status >= 500:
        fields.update(exc_type="KeyError", exc_message=f"'missing {seed}'", culprit=f"app.views:view_{seed}",
                      frames=[{"module": "app.views", "function": f"view_{seed}", "filename": "app/views.py",
                               "lineno": 10, "context": "x = d['k']", "vars": {"pk": "3"}}])
    fields.update(kw)
    return ErrorObserved(**fields)


def xadd(client: Any, events: Iterable[ErrorObserved]) -> None:
    """Append events to their shard streams."""
    from projector import conf

    names = conf.names()
    pipe = client.pipeline(transaction=False)
    for ev in events:
        pipe.xadd(names.errors_for(ev.fingerprint), {EVENT_FIELD: codec.encode(ev)})
    pipe.execute()


def project(client: Any, events: Iterable[ErrorObserved] = ()) -> Any:
    """XADD the events and run the real projector until the stream is drained; returns the projector."""
    from projector import conf
    from projector.loop import Projector
    from projector.store import for_alias

    xadd(client, list(events))
    projector = Projector(client, for_alias("default"), conf.get(), conf.names(), consumer="webui-test",
                          until_idle=True)
    projector.run()
    return projector


def aware(ms: int) -> datetime:
    """Epoch ms -> aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def group_row(seed: Any, count: int = 1, cls: str = "app_error", last: datetime | None = None,
              **kw: Any) -> Any:
    """An ErrorGroup row written directly (for pages that only read)."""
    from projector.models import ErrorGroup

    last = last or datetime.now(timezone.utc)
    fields = dict(fingerprint=fingerprint(seed), basis=f"v1|{seed}", title=f"Pattern {seed}", cls=cls,
                  error_type="500", status=500, method="GET", path=f"/things/{seed}/", route="things/<int:pk>/",
                  count=count, users=1, first_seen=last - timedelta(hours=1), last_seen=last, release="r1")
    fields.update(kw)
    return ErrorGroup.objects.create(**fields)
