"""Steady error traffic at a fixed rate: every response checked (status, friendly page) and its reference kept."""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

AWARE = "aware of this problem"  # the known-issue page's title, whatever the error


@dataclass(frozen=True)
class Kind:
    """One kind of request and what a correct answer looks like (status, and one of `texts` in the body)."""

    name: str
    method: str
    path: str
    status: int
    texts: tuple[str, ...]
    referer: bool = False


@dataclass(frozen=True)
class Result:
    """One answered (or failed) request."""

    kind: str
    status: int | None
    reference: str | None
    done_at: float  # time.monotonic() once the whole response was read
    problem: str = ""
    aware: bool = False


STEADY = (
    Kind("csrf", "POST", "/appointments/1/book/", 403, ("This form has expired", AWARE)),
    Kind("crash", "GET", "/crash/", 500, ("Something went wrong", AWARE)),
    Kind("missing", "GET", "/no-such-page/", 404, ("find that page",)),
    Kind("broken", "GET", "/pets/101/", 404, ("find that page", AWARE), referer=True),
    Kind("healthy", "GET", "/", 200, ("ok",)),
)


def crash_kind(tag: str) -> Kind:
    """A 500 of a pattern of its own (the exception message names the tag)."""
    return Kind(f"crash-{tag}", "GET", f"/crash/?name={tag}", 500, ("Something went wrong", AWARE))


@dataclass
class Traffic:
    """A thread sending `rate_per_s` requests per second, cycling over STEADY plus any injected extras."""

    port: int
    rate_per_s: float = 20.0
    timeout_s: float = 30.0
    results: list[Result] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cycle = itertools.cycle(STEADY)
        self._extra: deque[Kind] = deque()
        self._running = threading.Event()
        self._paused = False
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="e2e-traffic", daemon=True)

    # -- control --

    def start(self) -> "Traffic":
        self._running.set()
        self._thread.start()
        return self

    def pause(self) -> None:
        """Stop sending; returns once the request in flight (if any) is answered."""
        self._running.clear()
        with self._busy:
            self._paused = True

    def resume(self) -> None:
        self._running.set()

    def close(self) -> None:
        self._stop.set()
        self._running.set()
        self._thread.join(timeout=self.timeout_s + 5)

    def inject(self, kind: Kind, times: int) -> None:
        """Send `times` requests of `kind`, interleaved with the steady ones."""
        with self._lock:
            self._extra.extend([kind] * times)

    # -- what happened --

    def snapshot(self) -> list[Result]:
        with self._lock:
            return list(self.results)

    def errors(self) -> list[Result]:
        """Answered error responses (status >= 400) carrying a reference."""
        return [r for r in self.snapshot() if r.status and r.status >= 400 and r.reference]

    def problems(self) -> list[Result]:
        """Requests that failed or were answered wrongly."""
        return [r for r in self.snapshot() if r.problem]

    def counts(self) -> Counter:
        return Counter(r.kind for r in self.snapshot())

    def wait_sent(self, kind: str, count: int, timeout_s: float = 60.0) -> None:
        """Block until `count` answers of `kind` arrived (since the start)."""
        from tests.e2e.procs.proc import wait_for

        wait_for(lambda: self.counts()[kind] >= count, timeout_s, f"{count} answers to {kind} requests")

    # -- the loop --

    def _next_kind(self) -> Kind:
        with self._lock:
            if self._extra and (len(self.results) % 2 == 0):
                return self._extra.popleft()
        return next(self._cycle)

    def _loop(self) -> None:
        interval = 1.0 / self.rate_per_s
        due = time.monotonic()
        while not self._stop.is_set():
            self._running.wait()
            with self._busy:
                if self._stop.is_set() or not self._running.is_set():
                    continue
                if self._paused:  # the rate starts again from now: no burst to catch up the pause
                    due, self._paused = time.monotonic(), False
                result = self.send(self._next_kind())
                with self._lock:
                    self.results.append(result)
            due = max(due + interval, time.monotonic() - 1.0)  # pace; never burst to catch up more than 1 s
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def send(self, kind: Kind) -> Result:
        """One request of `kind`, checked."""
        headers = {"Accept": "text/html", "User-Agent": "errortrail-e2e-traffic/1.0"}
        body = None
        if kind.method == "POST":
            body = b"date=2026-12-24"
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if kind.referer:
            headers["Referer"] = f"http://127.0.0.1:{self.port}/pets/"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
        try:
            conn.request(kind.method, kind.path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            status, reference = response.status, response.getheader("X-Error-Reference")
        except (OSError, http.client.HTTPException) as exc:
            return Result(kind.name, None, None, time.monotonic(), f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        done = time.monotonic()
        problem = ""
        if status != kind.status:
            problem = f"status {status}, expected {kind.status}"
        elif not any(t in text for t in kind.texts):
            problem = f"not a friendly page: {text[:200]!r}"
        elif status >= 400 and not reference:
            problem = "no X-Error-Reference header"
        return Result(kind.name, status, reference, done, problem, aware=AWARE in text)
