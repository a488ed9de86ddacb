"""Primary rate-limit accounting per resource (core, search, graphql) and its headers."""

from __future__ import annotations

import threading
import time
from typing import Callable

WINDOW_S = {"core": 3600, "search": 60, "graphql": 3600}


class RateLimits:
    """Counts requests per resource in fixed windows; `limits` maps resource to requests per window."""

    def __init__(self, limits: dict[str, int] | None = None, clock: Callable[[], float] = time.time):
        self.limits = {"core": 5000, "search": 30, "graphql": 5000, **(limits or {})}
        self.clock = clock
        self._lock = threading.Lock()
        self._used: dict[str, tuple[int, int]] = {}  # resource -> (window start, used)

    def _window(self, resource: str) -> tuple[int, int]:
        now = int(self.clock())
        start, used = self._used.get(resource, (now, 0))
        if now >= start + WINDOW_S[resource]:
            start, used = now, 0
        return start, used

    def charge(self, resource: str) -> tuple[bool, dict[str, str]]:
        """Count one request; return whether it is within the limit and the `X-RateLimit-*` headers."""
        with self._lock:
            start, used = self._window(resource)
            allowed = used < self.limits[resource]
            if allowed:
                used += 1
            self._used[resource] = (start, used)
            return allowed, self._headers(resource, start, used)

    def _headers(self, resource: str, start: int, used: int) -> dict[str, str]:
        limit = self.limits[resource]
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(limit - used, 0)),
                "X-RateLimit-Reset": str(start + WINDOW_S[resource]), "X-RateLimit-Used": str(used),
                "X-RateLimit-Resource": resource}

    def peek(self, resource: str) -> dict[str, str]:
        """The headers for `resource` without counting a request."""
        with self._lock:
            return self._headers(resource, *self._window(resource))

    def overview(self) -> dict:
        """The body of `GET /rate_limit`."""
        resources = {}
        for resource in self.limits:
            headers = self.peek(resource)
            resources[resource] = {"limit": int(headers["X-RateLimit-Limit"]),
                                   "remaining": int(headers["X-RateLimit-Remaining"]),
                                   "reset": int(headers["X-RateLimit-Reset"]),
                                   "used": int(headers["X-RateLimit-Used"]), "resource": resource}
        return {"resources": resources, "rate": resources["core"]}
