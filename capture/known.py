"""The in-process copy of the known-issue map: matched without I/O, refreshed when its version moves."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from contracts import known as known_map
from contracts.known import KnownEntry, KnownMap
from contracts.names import Names

log = logging.getLogger(__name__)


class KnownCache:
    """Holds the last loaded map; the publish pipeline reports the current version, a refresh reloads it."""

    def __init__(self, refresh_s: float, clock: Any = time.monotonic) -> None:
        self.refresh_s = refresh_s
        self.clock = clock
        self.map = KnownMap(version=-1)
        self.seen_version = -1
        self.checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether a map was ever loaded."""
        return self.map.version >= 0

    def match(self, fingerprint: str, error_type: str, path: str) -> KnownEntry | None:
        """The open known issue for this error, from the local copy."""
        return self.map.match(fingerprint, error_type, path)

    def note_version(self, raw: Any) -> bool:
        """Record the version Redis reported alongside an XADD; True when our copy is now stale."""
        self.seen_version = known_map.parse_version(raw)
        if self.seen_version == self.map.version:
            self.checked_at = self.clock()
            return False
        return True

    def due(self) -> bool:
        """Whether a refresh is needed: never loaded, version moved, or not checked recently."""
        return (
            not self.loaded
            or self.seen_version != self.map.version
            or self.clock() - self.checked_at >= self.refresh_s
        )

    def refresh(self, client: Any, names: Names) -> bool:
        """Reload when the version differs from ours (one round trip, two when it changed); True if reloaded."""
        with self._lock:
            if self.loaded:
                version = known_map.parse_version(client.get(names.known_version))
                if version == self.map.version:
                    self.seen_version = version
                    self.checked_at = self.clock()
                    return False
            fresh = known_map.load(client, names)
            if fresh.invalid:
                log.warning("known-issue map: skipped %d invalid entries", fresh.invalid)
            self.map = fresh
            self.seen_version = fresh.version
            self.checked_at = self.clock()
            return True
