"""Redis stream calls of the projector: group setup, fenced reads, pending drains, claims, acks, dead letters."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from contracts.names import EVENT_FIELD
from projector.handlers import order_key

Entry = tuple[str, dict]
DEAD_MAXLEN = 100_000


def connect(url: str, socket_timeout_s: float, cluster: bool = False) -> Any:
    """The consumer's client (a RedisCluster with cluster): bytes replies, no automatic retries (the loop backs off)."""
    options = dict(socket_timeout=socket_timeout_s, socket_connect_timeout=min(socket_timeout_s, 2.0),
                   retry=Retry(NoBackoff(), 0))
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, health_check_interval=30, **options)


def text(value: Any) -> str:
    """A reply value as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_entries(raw: Any) -> list[Entry]:
    """[[id, [field, value, ...]], ...] (or already-mapped fields) -> [(id, {field: value})]."""
    out = []
    for item in raw or ():
        entry_id, fields = item[0], item[1]
        if fields is None:  # an entry trimmed while pending
            out.append((text(entry_id), {}))
            continue
        if not isinstance(fields, dict):
            fields = dict(zip(fields[::2], fields[1::2]))
        out.append((text(entry_id), fields))
    return out


def _stream_reply(raw: Any) -> list[Entry]:
    """One stream's entries from an XREADGROUP reply ([[stream, entries]], fakeredis's flat [stream, entries], or
    {stream: entries} as a RedisCluster transaction returns it)."""
    if not raw:
        return []
    if isinstance(raw, dict):
        return parse_entries(next(iter(raw.values())))
    if isinstance(raw[0], (bytes, str)):
        return parse_entries(raw[1])
    return parse_entries(raw[0][1])


def ensure_group(client: Any, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) if missing, starting from the first entry."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class Reader:
    """A consumer's view of one shard stream."""

    def __init__(self, client: Any, stream: str, group: str, consumer: str, dead: str) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.dead = dead

    def read_new(self, tail: str, count: int) -> tuple[list[Entry], str, bool]:
        """(entries, new tail, caught up): new entries after our tail, first those an old holder took past it."""
        # One MULTI: if the first entry after our tail is not the first delivered to us, an old holder read
        # entries in between. Skipping them later as "at or below the checkpoint" would lose them, so they are
        # claimed and applied first (the old holder cannot commit them: the epoch fences it).
        pipe = self.client.pipeline(transaction=True)
        pipe.xrange(self.stream, min="(" + tail, max="+", count=1)
        pipe.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=count)
        pipe.xrevrange(self.stream, max="+", min="-", count=1)
        following, reply, newest = pipe.execute()
        entries = _stream_reply(reply)
        after_tail = text(following[0][0]) if following else None
        if entries:
            if after_tail != entries[0][0]:
                entries = self._claim_between(tail, entries[0][0]) + entries
            return entries, entries[-1][0], False
        if after_tail is not None:
            gap = self._claim_between(tail, None)
            if gap:
                return gap, gap[-1][0], False
        return [], text(newest[0][0]) if newest else tail, True

    def _claim_between(self, tail: str, before: str | None) -> list[Entry]:
        ids = [entry_id for entry_id, _ in self.client.xrange(
            self.stream, min="(" + tail, max="(" + before if before else "+")]
        if not ids:
            return []
        return parse_entries(self.client.xclaim(self.stream, self.group, self.consumer, 0, ids))

    def read_own_pending(self, after: str, count: int) -> list[Entry]:
        """This consumer's pending entries after an id, read again without counting as deliveries."""
        # XREADGROUP would bump every entry's delivery count on each retry of a database or Redis outage,
        # until healthy entries reached the dead-letter limit. A trimmed entry comes back with no fields.
        ms, seq = order_key(after)
        rows = self.client.xpending_range(self.stream, self.group, min=f"{ms}-{seq + 1}", max="+", count=count,
                                          consumername=self.consumer)
        ids = [text(row["message_id"]) for row in rows]
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(self.stream, min=entry_id, max=entry_id)
        found = dict(entry for reply in pipe.execute() for entry in parse_entries(reply))
        return [(entry_id, found.get(entry_id, {})) for entry_id in ids]

    def keep_own_pending(self, page: int = 10_000) -> int:
        """Reset the idle time of this consumer's pending entries (JUSTID: no delivery counted); how many."""
        kept, start = 0, "-"
        while True:
            rows = self.client.xpending_range(self.stream, self.group, min=start, max="+", count=page,
                                              consumername=self.consumer)
            ids = [text(row["message_id"]) for row in rows]
            if ids:
                self.client.xclaim(self.stream, self.group, self.consumer, 0, ids, justid=True)
                kept += len(ids)
            if len(ids) < page:
                return kept
            ms, seq = order_key(ids[-1])
            start = f"{ms}-{seq + 1}"

    def deliveries(self, first: str, last: str, count: int) -> dict[str, int]:
        """How many times each of this consumer's pending entries in [first, last] was delivered."""
        rows = self.client.xpending_range(self.stream, self.group, min=first, max=last, count=count,
                                          consumername=self.consumer)
        return {text(r["message_id"]): int(r["times_delivered"]) for r in rows}

    def finish(self, ids: Sequence[str], dead: Iterable[tuple[str, bytes, str]]) -> None:
        """Dead-letter, then XACK, atomically (the dead-letter stream shares the shard's hash slot)."""
        pipe = self.client.pipeline(transaction=True)
        for entry_id, raw, reason in dead:
            pipe.xadd(self.dead, {EVENT_FIELD: raw, "reason": reason[:500], "id": entry_id, "stream": self.stream},
                      maxlen=DEAD_MAXLEN, approximate=True)
        if ids:
            pipe.xack(self.stream, self.group, *ids)
        pipe.execute()

    def last_delivered(self) -> str:
        """The group's last-delivered id ('0-0' when the group is new)."""
        for info in self.client.xinfo_groups(self.stream):
            if text(info["name"]) == self.group:
                return text(info["last-delivered-id"])
        return "0-0"  # pragma: no cover - ensure_group() runs first


def group_info(client: Any, stream: str, group: str) -> dict[str, Any]:
    """pending, lag and last-delivered id of a group ({} when the stream or group is missing)."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:
        return {}
    for info in groups:
        if text(info["name"]) == group:
            last_delivered = text(info.get("last-delivered-id") or "0-0")
            lag = info.get("lag")
            if lag is None:  # Redis cannot tell after deletions: compare with the newest entry
                newest = client.xrevrange(stream, count=1)
                lag = int(bool(newest) and order_key(text(newest[0][0])) > order_key(last_delivered))
            return {"pending": int(info.get("pending") or 0), "lag": int(lag), "last_delivered": last_delivered}
    return {}


def wait_for_entries(client: Any, positions: dict[str, str], block_ms: int, cluster: bool = False) -> bool:
    """Block until an entry newer than each stream's position arrives (or block_ms passes)."""
    if cluster and len(positions) > 1:
        # One XREAD names keys of one cluster slot only: look at every stream without blocking, then block on one.
        pipe = client.pipeline(transaction=False)
        for stream, position in positions.items():
            pipe.xread({stream: position}, count=1)
        if any(pipe.execute()):
            return True
        positions = dict([next(iter(positions.items()))])
    return bool(client.xread(positions, count=1, block=block_ms))
