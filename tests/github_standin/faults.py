"""Injectable faults: which requests they hit, how many times, and what the client gets instead."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase

SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID.")
PRIMARY_MESSAGE = "API rate limit exceeded for user ID 1."
CREATE_PATH = "/repos/*/*/issues"


@dataclass
class Fault:
    """Answer the next `times` requests matching `method` and `path` (globs) with `status`, or drop them.

    `after=True` performs the request first (the issue IS created) and then answers with the fault.
    `kind` is "status" or "drop" (close the connection without a response).
    """

    kind: str = "status"
    method: str = "*"
    path: str = "*"
    status: int = 502
    message: str = "Server Error"
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    after: bool = False
    hits: int = 0

    def __post_init__(self):
        if self.kind not in ("status", "drop"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        return fnmatchcase(method, self.method) and fnmatchcase(path, self.path)

    def as_dict(self) -> dict:
        return asdict(self)


def secondary_rate_limit(retry_after: int = 1, **match) -> Fault:
    """GitHub's 403 secondary rate limit with `Retry-After`."""
    return Fault(status=403, message=SECONDARY_MESSAGE, headers={"Retry-After": str(retry_after)}, **match)


def primary_rate_limit(reset_in: int = 60, now: float | None = None, **match) -> Fault:
    """GitHub's 403 primary rate limit: `X-RateLimit-Remaining: 0` and the reset time."""
    reset = int((time.time() if now is None else now) + reset_in)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    return Fault(status=403, message=PRIMARY_MESSAGE, headers=headers, **match)


def bad_credentials(**match) -> Fault:
    return Fault(status=401, message="Bad credentials", **match)


def fault_from_dict(data: dict) -> Fault:
    """Build a fault from the control endpoint's JSON, with the named presets as `preset`."""
    data = dict(data)
    preset = data.pop("preset", None)
    data.pop("hits", None)
    if preset == "secondary_rate_limit":
        return secondary_rate_limit(**data)
    if preset == "primary_rate_limit":
        return primary_rate_limit(**data)
    if preset == "bad_credentials":
        return bad_credentials(**data)
    if preset == "after_create":
        return Fault(**{"method": "POST", "path": CREATE_PATH, "after": True, **data})
    if preset is not None:
        raise ValueError(f"unknown preset {preset!r}")
    return Fault(**data)


class FaultBook:
    """The armed faults, first match wins; each hit uses one of its `times`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request hits, if any (used up when its `times` run out)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None
