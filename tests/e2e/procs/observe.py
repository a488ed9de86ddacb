"""Reads of the running system for assertions: PostgreSQL projections, Redis streams and counters, the stand-in."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psycopg
import redis

from contracts.names import GROUP_BUGBOT, GROUP_PROJECTOR, Names

THRESHOLD = 3
BUG_CLASSES = ("app_error", "csrf", "broken_link")


@dataclass
class DbView:
    """One consistent (repeatable-read) look at the projections and the known issues."""

    groups: list[dict] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Sum of ErrorGroup.count."""
        return sum(g["count"] for g in self.groups)

    def over_threshold(self) -> list[dict]:
        """Groups of a bug-filing class whose count reached the threshold."""
        return [g for g in self.groups if g["cls"] in BUG_CLASSES and g["count"] >= THRESHOLD]

    def issue_for(self, fingerprint: str) -> dict | None:
        return next((i for i in self.issues if i["error_fingerprint"] == fingerprint), None)


def db_view(dsn: str) -> DbView:
    """Groups, stored event ids and known issues, read in one snapshot."""
    from bugbot.models import KnownIssue
    from projector.models import ErrorGroup, ErrorLog

    with psycopg.connect(dsn, connect_timeout=3) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            groups = cur.execute("SELECT fingerprint, cls, error_type, status, route, path, exc_message, count "
                                 f"FROM {ErrorGroup._meta.db_table} ORDER BY id").fetchall()
            rows = cur.execute(f"SELECT event_id FROM {ErrorLog._meta.db_table}").fetchall()
            issues = cur.execute("SELECT bug_id, error_fingerprint, filing_state, issue_number, github_issue_url, "
                                 f"attempts, last_error FROM {KnownIssue._meta.db_table} ORDER BY id").fetchall()
    return DbView(groups, [r["event_id"] for r in rows], issues)


def checkpoint(dsn: str, stream: str) -> tuple[int, int]:
    """The last stream id the projector applied (and committed) for a stream."""
    from projector.models import Checkpoint

    with psycopg.connect(dsn, connect_timeout=3) as conn:
        row = conn.execute(f"SELECT last_ms, last_seq FROM {Checkpoint._meta.db_table} WHERE stream = %s",
                           (stream,)).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def resp_commands(data: bytes) -> Iterator[list[bytes]]:
    """The commands of an append-only file (RESP arrays of bulk strings); a torn last command is ignored."""
    at = 0
    try:
        while at < len(data):
            end = data.index(b"\r\n", at)
            count, at = int(data[at + 1:end]), end + 2
            args = []
            for _ in range(count):
                end = data.index(b"\r\n", at)
                size, at = int(data[at + 1:end]), end + 2
                if at + size > len(data):
                    return
                args.append(data[at:at + size])
                at += size + 2
            yield args
    except ValueError:
        return


def recorded_xadds(record: Path, stream: str) -> list[tuple[str, bytes]]:
    """(entry id, field value) of every XADD to `stream` in a Redis server's record of commands."""
    out = []
    for path in sorted(record.glob("*.aof")):
        for args in resp_commands(path.read_bytes()):
            if args[0].upper() == b"XADD" and args[1].decode() == stream:
                out.append((args[-3].decode(), args[-1]))  # ... <id> e <event>: one field per entry
    return out


@dataclass
class RedisView:
    """Stream positions, dead letters and capture's counters."""

    errors_pending: int
    errors_lag: int | None
    signals_pending: int
    drops: dict[str, int]
    capture: dict[str, int]
    dead: int = 0

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())


def _group(client: redis.Redis, stream: str, group: str) -> dict:
    try:
        for info in client.xinfo_groups(stream):
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == group:
                return info
    except redis.ResponseError:  # no such stream yet
        pass
    return {}


def _counters(raw: dict) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items()}


def redis_view(client: redis.Redis, names: Names) -> RedisView:
    """XPENDING and lag of the error stream, XPENDING of the signals stream, drop and capture counters."""
    errors = _group(client, names.errors(0), GROUP_PROJECTOR)
    signals_pending = client.xpending(names.signals, GROUP_BUGBOT)["pending"] if _group(
        client, names.signals, GROUP_BUGBOT) else 0
    errors_pending = client.xpending(names.errors(0), GROUP_PROJECTOR)["pending"] if errors else 0
    lag = errors.get("lag") if errors else None
    dead = client.xlen(names.dead(0)) + client.xlen(names.signals_dead)
    return RedisView(errors_pending, lag, signals_pending, _counters(client.hgetall(names.drops)),
                     _counters(client.hgetall(names.capture_stats)), dead)


def http_json(url: str, method: str = "GET", payload: Any = None) -> Any:
    """A JSON request to the stand-in's control endpoints (never proxied)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def marker_of(fingerprint: str) -> str:
    """The hidden marker bugbot writes in the issue it files for a fingerprint."""
    return f"errortrail:fingerprint={fingerprint}"


def issues_with_marker(state: dict, fingerprint: str) -> list[dict]:
    """Stand-in issues whose body carries the fingerprint's marker."""
    return [i for i in state["issues"] if marker_of(fingerprint) in (i.get("body") or "")]
