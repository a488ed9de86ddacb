"""Event dataclasses: one per event type, each with its schema version and field limits."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from typing import Any, ClassVar

MAX_EVENT_BYTES = 64 * 1024
MAX_TREE_DEPTH = 10
MAX_TREE_NODES = 4000
MAX_TREE_STRING = 8192
MAX_FRAMES = 50

CLASSES = ("app_error", "csrf", "permission", "not_found", "broken_link", "probe", "client_error")


def spec(kind: str, limit: int = 0, default: Any = MISSING) -> Any:
    """A dataclass field with its wire kind and size limit (string length, list length or value range)."""
    meta = {"kind": kind, "limit": limit}
    if default is MISSING:
        return field(metadata=meta)
    if isinstance(default, (list, dict)):
        return field(default_factory=type(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class ErrorObserved:
    """One error response or unhandled exception seen by capture."""

    TYPE: ClassVar[str] = "error.observed"
    VERSION: ClassVar[int] = 1

    id: str = spec("id")
    ts: int = spec("ts")
    status: int = spec("status")
    error_type: str = spec("str", 32)
    cls: str = spec("class")
    method: str = spec("str", 16)
    path: str = spec("str", 2048)
    url: str = spec("str", 4096)
    fingerprint: str = spec("fingerprint")
    basis: str = spec("str", 2048)
    route: str | None = spec("str?", 512, None)
    host: str | None = spec("str?", 255, None)
    user_id: str | None = spec("str?", 64, None)
    user_name: str | None = spec("str?", 150, None)
    client: str | None = spec("str?", 32, None)
    request: dict = spec("tree", 0, {})
    csrf_kind: str | None = spec("str?", 32, None)
    exc_type: str | None = spec("str?", 256, None)
    exc_message: str | None = spec("str?", 2048, None)
    culprit: str | None = spec("str?", 512, None)
    frames: list = spec("frames", MAX_FRAMES, [])
    release: str | None = spec("str?", 128, None)
    environment: str | None = spec("str?", 64, None)
    known_bug: str | None = spec("str?", 16, None)
    weight: int = spec("count", 1_000_000_000, 1)


@dataclass(frozen=True, slots=True)
class ThresholdCrossed:
    """A pattern reached the bug threshold (or regressed after a fix): all bugbot needs to file it."""

    TYPE: ClassVar[str] = "threshold.crossed"
    VERSION: ClassVar[int] = 1

    id: str = spec("id")
    ts: int = spec("ts")
    fingerprint: str = spec("fingerprint")
    basis: str = spec("str", 2048)
    title: str = spec("str", 256)
    cls: str = spec("class")
    error_type: str = spec("str", 32)
    status: int = spec("status")
    method: str = spec("str", 16)
    path: str = spec("str", 2048)
    count: int = spec("count", 10**15)
    threshold: int = spec("count", 10**9)
    first_seen: int = spec("ts")
    last_seen: int = spec("ts")
    route: str | None = spec("str?", 512, None)
    users: int = spec("count0", 10**15, 0)
    culprit: str | None = spec("str?", 512, None)
    exc_type: str | None = spec("str?", 256, None)
    exc_message: str | None = spec("str?", 2048, None)
    frames: list = spec("frames", MAX_FRAMES, [])
    sample_request: str | None = spec("str?", 1024, None)
    sample_event_id: str | None = spec("str?", 32, None)
    csrf_kind: str | None = spec("str?", 32, None)
    release: str | None = spec("str?", 128, None)
    environment: str | None = spec("str?", 64, None)
    regression: bool = spec("bool", 0, False)


@dataclass(frozen=True, slots=True)
class BugFiled:
    """A known issue got its tracker issue (created, adopted after a failure, or reopened)."""

    TYPE: ClassVar[str] = "bug.filed"
    VERSION: ClassVar[int] = 1

    id: str = spec("id")
    ts: int = spec("ts")
    fingerprint: str = spec("fingerprint")
    bug_id: str = spec("str", 16)
    issue_url: str = spec("str", 1024)
    backend: str = spec("str", 16)
    adopted: bool = spec("bool", 0, False)
    reopened: bool = spec("bool", 0, False)


@dataclass(frozen=True, slots=True)
class BugFailed:
    """An attempt to file a known issue failed."""

    TYPE: ClassVar[str] = "bug.failed"
    VERSION: ClassVar[int] = 1

    id: str = spec("id")
    ts: int = spec("ts")
    fingerprint: str = spec("fingerprint")
    bug_id: str = spec("str", 16)
    backend: str = spec("str", 16)
    reason: str = spec("str", 1024)
    attempts: int = spec("count", 10**6)
    final: bool = spec("bool", 0, False)


EVENT_TYPES: dict[str, type] = {cls.TYPE: cls for cls in (ErrorObserved, ThresholdCrossed, BugFiled, BugFailed)}

Event = ErrorObserved | ThresholdCrossed | BugFiled | BugFailed
