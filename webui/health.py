"""The pipeline health panel: streams, lag, pending, dead letters, heartbeats, capture drops, filings, last scan.

Redis is read in two or three pipelined round trips; when it does not answer, the panel shows the fault.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db import DatabaseError

from bugbot import conf as bugbot_conf
from bugbot import services
from contracts.names import GROUP_BUGBOT, GROUP_PROJECTOR
from projector import conf
from projector.handlers import order_key
from webui import connection

log = logging.getLogger(__name__)
MAX_HEARTBEATS = 200


@dataclass
class StreamHealth:
    """One stream and its consumer group."""

    label: str
    key: str
    group: str
    dead_key: str
    length: int = 0
    pending: int = 0
    lag: int | None = 0
    consumers: int = 0
    dead: int = 0
    has_group: bool = False
    last_delivered: str = ""


@dataclass
class Health:
    """What the panel and the JSON API show."""

    ok: bool = True
    fault: str = ""
    database_fault: str = ""
    streams: list[StreamHealth] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=dict)
    capture: dict[str, int] = field(default_factory=dict)
    filings: dict[str, int] = field(default_factory=dict)
    scan: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def filings_open(self) -> dict[str, int]:
        """Filing states that have known issues in them, other than filed and not filed."""
        return {k: v for k, v in self.filings.items() if v and k not in ("filed", "none")}

    @property
    def dead_total(self) -> int:
        """Dead letters over every stream."""
        return sum(s.dead for s in self.streams)

    def as_dict(self) -> dict[str, Any]:
        """The JSON API's shape."""
        return {
            "ok": self.ok, "fault": self.fault or None, "database_fault": self.database_fault or None,
            "streams": [{k: getattr(s, k) for k in ("label", "key", "group", "length", "pending", "lag", "consumers",
                                                     "dead", "dead_key", "has_group")} for s in self.streams],
            "heartbeats": self.heartbeats, "drops": self.drops, "capture": self.capture, "filings": self.filings,
            "scan": self.scan, "warnings": self.warnings,
        }


def text(value: Any) -> str:
    """A reply value as str."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def counters(raw: Any) -> dict[str, int]:
    """An HGETALL of counters as {field: int}, garbage as 0."""
    out = {}
    for key, value in (raw or {}).items():
        try:
            out[text(key)] = int(value)
        except (TypeError, ValueError):
            out[text(key)] = 0
    return dict(sorted(out.items()))


def streams() -> list[StreamHealth]:
    """Every stream the panel watches: each error shard (projector) and the signals stream (bugbot)."""
    names = conf.names()
    out = [StreamHealth("errors" if names.shards == 1 else f"errors shard {i}", names.errors(i), GROUP_PROJECTOR,
                        names.dead(i)) for i in range(names.shards)]
    out.append(StreamHealth("signals", names.signals, GROUP_BUGBOT, names.signals_dead))
    return out


def apply_groups(stream: StreamHealth, reply: Any) -> None:
    """Fill pending/lag/consumers from an XINFO GROUPS reply (an error reply: no stream or group yet)."""
    if isinstance(reply, Exception):
        return
    for info in reply or ():
        if text(info.get("name")) == stream.group:
            stream.has_group = True
            stream.pending = int(info.get("pending") or 0)
            stream.consumers = int(info.get("consumers") or 0)
            stream.last_delivered = text(info.get("last-delivered-id") or "0-0")
            lag = info.get("lag")
            stream.lag = None if lag is None else int(lag)
            return
    stream.lag = stream.length


def heartbeat(raw: dict, ttl_ms: int, now_ms: int) -> dict[str, Any]:
    """A heartbeat hash as the panel shows it: role, consumer, state, age and the consumer's counters."""
    beat = {text(k): text(v) for k, v in raw.items()}
    stamp = beat.get("updated_ms") or beat.get("ts") or "0"
    try:
        age_s = max(0.0, (now_ms - int(stamp)) / 1000)
    except ValueError:
        age_s = None
    figures = {k: v for k, v in beat.items() if k not in ("role", "consumer", "state", "updated_ms", "ts", "host",
                                                           "pid", "started", "last_error")}
    return {"role": beat.get("role", "?"), "consumer": beat.get("consumer", "?"), "state": beat.get("state", ""),
            "host": beat.get("host", ""), "pid": beat.get("pid", ""), "age_s": age_s,
            "expires_s": round(ttl_ms / 1000, 1) if ttl_ms and ttl_ms > 0 else None,
            "last_error": beat.get("last_error", ""), "figures": dict(sorted(figures.items()))}


def scan_state(raw: Any) -> dict[str, Any]:
    """The last periodic scan: when, and which steps failed or were missing."""
    state = {text(k): text(v) for k, v in (raw or {}).items()}
    out: dict[str, Any] = {"last_run_ms": None, "problems": [], "steps": 0}
    try:
        out["last_run_ms"] = int(state.get("bugbot:last_run_ms", ""))
    except ValueError:
        pass
    try:
        results = json.loads(state.get("bugbot:last_result") or "{}")
    except ValueError:
        results = {}
    if isinstance(results, dict):
        out["steps"] = len(results)
        for step, result in results.items():
            if isinstance(result, dict) and ("error" in result or "missing" in result):
                error = str(result.get("error") or result.get("missing"))[:300]
                out["problems"].append({"step": str(step), "error": error})
    return out


def read_redis(health: Health, client: Any, now_ms: int) -> None:
    """Fill the Redis figures (raises on connection errors)."""
    names = conf.names()
    health.streams = streams()
    pipe = client.pipeline(transaction=False)
    for s in health.streams:
        pipe.xlen(s.key)
        pipe.xinfo_groups(s.key)
        pipe.xlen(s.dead_key)
    pipe.hgetall(names.drops)
    pipe.hgetall(names.capture_stats)
    pipe.hgetall(names.scan_state)
    replies = pipe.execute(raise_on_error=False)  # error replies (no such stream) come back as values
    for i, s in enumerate(health.streams):
        length, groups, dead = replies[3 * i: 3 * i + 3]
        s.length = length if isinstance(length, int) else 0
        s.dead = dead if isinstance(dead, int) else 0
        apply_groups(s, groups)
    health.drops, health.capture = counters(replies[-3]), counters(replies[-2])
    health.scan = scan_state(replies[-1])
    unknown = [s for s in health.streams if s.has_group and s.lag is None]
    if unknown:  # Redis cannot count lag after deletions: compare the newest entry with the group's position
        pipe = client.pipeline(transaction=False)
        for s in unknown:
            pipe.xrevrange(s.key, count=1)
        for s, newest in zip(unknown, pipe.execute()):
            s.lag = int(bool(newest) and order_key(text(newest[0][0])) > order_key(s.last_delivered or "0-0"))
    keys = list(islice(client.scan_iter(match=names.heartbeat_pattern(), count=500), MAX_HEARTBEATS))
    if keys:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
            pipe.pttl(key)
        replies = pipe.execute()
        beats = [heartbeat(replies[2 * i], replies[2 * i + 1], now_ms) for i in range(len(keys)) if replies[2 * i]]
        health.heartbeats = sorted(beats, key=lambda b: (b["role"], b["consumer"]))


def warnings(health: Health, now_ms: int) -> list[str]:
    """Plain-language problems worth a look."""
    out = []
    roles = {b["role"] for b in health.heartbeats}
    for role, what in (("projector", "the error stream"), ("bugbot", "the signals stream")):
        if role not in roles:
            out.append(f"No {role} heartbeat: nothing is consuming {what}.")
    if health.dead_total:
        out.append(f"{health.dead_total:,} dead letter(s) wait for a decision.")
    if sum(health.drops.values()):
        out.append(f"Capture dropped {sum(health.drops.values()):,} event(s).")
    for state, label in (("failed", "failed"), ("held", "held by the filing cap")):
        if health.filings.get(state):
            out.append(f"{health.filings[state]:,} filing(s) {label}.")
    interval_ms = bugbot_conf.get()["SCAN_INTERVAL_MINUTES"] * 60_000
    last = health.scan.get("last_run_ms")
    if last is None:
        out.append("The periodic scan has not run yet.")
    elif now_ms - last > 2 * interval_ms:
        out.append("The periodic scan is overdue.")
    if health.scan.get("problems"):
        out.append(f"{len(health.scan['problems'])} scan step(s) failed in the last run.")
    return out


def read(now_ms: int | None = None) -> Health:
    """The panel's figures; a Redis fault is reported in `fault`, a database fault in `database_fault`, never raised."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    health = Health()
    try:
        health.filings = services.filing_counts()
    except DatabaseError as exc:
        log.warning("webui: the database is unreachable for the health panel: %s", exc)
        health.ok = False
        health.database_fault = f"Database unreachable: {type(exc).__name__}: {exc}"[:300]
    try:
        read_redis(health, connection.client(), now_ms)
    except connection.ERRORS as exc:
        log.warning("webui: Redis unreachable for the health panel: %s", exc)
        health.ok, health.streams, health.heartbeats = False, [], []
        health.fault = f"Redis unreachable: {type(exc).__name__}: {exc}"[:300]
        return health
    health.warnings = warnings(health, now_ms)
    return health
