"""Dead letters: entries the projector or bugbot could not process, listed with their reason; requeue or discard.

Both consumers dead-letter an entry as {e: payload, reason, stream, id, ...}; a requeue appends the payload
to the stream that dead-letter stream belongs to (never to a stream named by the entry) and deletes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis

from contracts import codec
from contracts.names import EVENT_FIELD
from projector import conf
from projector.handlers import order_key
from webui.filters import Filters

MAX_SCAN = 2000
REQUEUED, DISCARDED, MISSING, EMPTY, BUSY = "requeued", "discarded", "missing", "empty", "busy"
_ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}\Z")
_FIELD = EVENT_FIELD.encode()


@dataclass
class DeadLetter:
    """One dead-letter entry and what its payload says, when it decodes."""

    dead_key: str
    id: str
    at: datetime
    reason: str
    source: str
    fields: dict[str, str]
    size: int
    type: str = ""
    cls: str = ""
    status: int | None = None
    path: str = ""
    release: str = ""
    fingerprint: str = ""
    problem: str = ""


def sources() -> dict[str, tuple[str, str]]:
    """dead-letter stream -> (label, the stream its entries came from)."""
    names = conf.names()
    out = {names.dead(i): ("errors" if names.shards == 1 else f"errors shard {i}", names.errors(i))
           for i in range(names.shards)}
    out[names.signals_dead] = ("signals", names.signals)
    return out


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse(dead_key: str, entry_id: str, fields: dict) -> DeadLetter:
    """A dead-letter entry with its payload decoded where possible."""
    raw = fields.get(_FIELD, fields.get(EVENT_FIELD)) or b""
    meta = {_text(k): _text(v)[:1000] for k, v in fields.items() if _text(k) != EVENT_FIELD}
    ms = order_key(entry_id)[0]
    letter = DeadLetter(dead_key, entry_id, datetime.fromtimestamp(ms / 1000, tz=timezone.utc),
                        meta.pop("reason", ""), sources().get(dead_key, ("", ""))[1], meta, len(raw))
    if not raw:
        letter.problem = "no payload"
        return letter
    try:
        event = codec.decode(raw)
    except codec.ContractError as exc:
        letter.problem = str(exc)[:300]
        return letter
    letter.type = event.TYPE
    letter.cls = getattr(event, "cls", "") or ""
    letter.status = getattr(event, "status", None)
    letter.path = getattr(event, "path", "") or ""
    letter.release = getattr(event, "release", "") or ""
    letter.fingerprint = getattr(event, "fingerprint", "") or ""
    return letter


def read(client: Any, filters: Filters, since: datetime | None, limit: int = MAX_SCAN) -> tuple[list[DeadLetter], bool]:
    """The newest dead letters of every (or the chosen) stream matching the filters; True when the scan was cut."""
    keys = [filters.source] if filters.source else list(sources())
    low = f"{int(since.timestamp() * 1000)}-0" if since else "-"
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.xrevrange(key, max="+", min=low, count=limit + 1)
    letters, cut = [], False
    for key, entries in zip(keys, pipe.execute()):
        cut = cut or len(entries) > limit
        letters.extend(parse(key, _text(i), f) for i, f in entries[:limit])
    letters.sort(key=lambda d: order_key(d.id), reverse=True)
    wanted = [d for d in letters if _wanted(d, filters)]
    return wanted[:limit], cut or len(wanted) > limit


def _wanted(letter: DeadLetter, filters: Filters) -> bool:
    if filters.cls and letter.cls != filters.cls:
        return False
    if filters.release and letter.release != filters.release:
        return False
    if filters.route and filters.route.lower() not in letter.path.lower():
        return False
    if filters.q and filters.q.lower() not in (letter.reason + " " + letter.fingerprint).lower():
        return False
    return True


def _check(dead_key: str, entry_id: str) -> str:
    if dead_key not in sources():
        raise ValueError("not a dead-letter stream")
    if not _ENTRY_ID.match(entry_id or ""):
        raise ValueError("not a stream entry id")
    return sources()[dead_key][1]


def requeue(client: Any, dead_key: str, entry_id: str) -> str:
    """Append the entry's payload to its source stream and delete it from the dead letters, atomically."""
    source = _check(dead_key, entry_id)
    with client.pipeline(transaction=True) as pipe:
        for _ in range(3):
            try:
                pipe.watch(dead_key)
                entries = pipe.xrange(dead_key, min=entry_id, max=entry_id)
                if not entries:
                    return MISSING
                payload = dict(entries[0][1]).get(_FIELD)
                if not payload:
                    return EMPTY
                pipe.multi()
                pipe.xadd(source, {EVENT_FIELD: payload})
                pipe.xdel(dead_key, entry_id)
                pipe.execute()
                return REQUEUED
            except redis.WatchError:  # a consumer dead-lettered another entry meanwhile: read again
                pipe.reset()
    return BUSY


def discard(client: Any, dead_key: str, entry_id: str) -> str:
    """Delete a dead-letter entry."""
    _check(dead_key, entry_id)
    return DISCARDED if client.xdel(dead_key, entry_id) else MISSING
