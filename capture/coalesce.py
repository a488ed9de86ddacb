"""Storm control: repeats of one fingerprint within a window fold into one weighted event; full events are capped."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Held:
    """Occurrences of one fingerprint held back in a window, and the latest one's particulars."""

    started: float
    full: int = 0
    weight: int = 0
    latest: Any = None


class Coalescer:
    """Decides, per occurrence, between a full event and a count folded into the window's weighted event."""

    def __init__(
        self,
        window_s: float,
        full_per_window: int,
        max_full_per_s: int,
        max_keys: int,
        clock: Any = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.full_per_window = full_per_window
        self.max_full_per_s = max_full_per_s
        self.max_keys = max_keys
        self.clock = clock
        self._windows: dict[str, Held] = {}
        self._ready: list[tuple[str, Held]] = []
        self._second = -1
        self._full_this_second = 0
        self._lock = threading.Lock()

    def offer(self, fingerprint: str, latest: Any) -> bool:
        """True: send this occurrence as a full event. False: it was counted into its window's weight."""
        now = self.clock()
        with self._lock:
            window = self._windows.get(fingerprint)
            if window is None or now - window.started >= self.window_s:
                if window is not None and window.weight:
                    self._ready.append((fingerprint, window))
                if window is None and len(self._windows) >= self.max_keys:
                    self._close_all()
                window = self._windows[fingerprint] = Held(started=now)
            if window.full < self.full_per_window and self._take_full(now):
                window.full += 1
                return True
            window.weight += 1
            window.latest = latest
            return False

    def _take_full(self, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second, self._full_this_second = second, 0
        if self._full_this_second >= self.max_full_per_s:
            return False
        self._full_this_second += 1
        return True

    def _close_all(self) -> None:
        self._ready.extend((fp, w) for fp, w in self._windows.items() if w.weight)
        self._windows.clear()

    def due(self) -> list[tuple[str, Held]]:
        """Windows that have ended with occurrences held (to send as weighted events now)."""
        now = self.clock()
        with self._lock:
            ready, self._ready = self._ready, []
            ended = [fp for fp, w in self._windows.items() if now - w.started >= self.window_s]
            for fp in ended:
                window = self._windows.pop(fp)
                if window.weight:
                    ready.append((fp, window))
            return ready

    def drain(self) -> list[tuple[str, Held]]:
        """Every window with held occurrences, ended or not (process exit)."""
        with self._lock:
            self._close_all()
            ready, self._ready = self._ready, []
            return ready

    def pending(self) -> int:
        """Occurrences held and not yet sent."""
        with self._lock:
            return sum(w.weight for w in self._windows.values()) + sum(w.weight for _, w in self._ready)
