"""Process-wide concerns of a long-running consumer: signals, GC and GIL tuning, its name, backoff."""

from __future__ import annotations

import gc
import os
import random
import signal
import socket
import sys
from typing import Any

SWITCH_INTERVAL_S = 0.0005


class Backoff:
    """Capped exponential delays with jitter, reset after a success."""

    def __init__(self, cap_s: float, base_s: float = 0.1) -> None:
        self.cap_s = cap_s
        self.base_s = base_s
        self.failures = 0

    def next(self) -> float:
        """The next delay, seconds."""
        delay = min(self.cap_s, self.base_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        """Back to the shortest delay."""
        self.failures = 0


def tune_process() -> None:
    """Settings for a long-running consumer: fewer GC passes, and a short GIL switch interval."""
    # Decoding allocates many small containers; startup objects need no scanning; with the default 5 ms
    # interval the writer thread waited that long for each database reply while the read-ahead decoded.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def default_consumer() -> str:
    """host-pid unless ERRORTRAIL_CONSUMER names this process (supervisord sets a stable one)."""
    return os.environ.get("ERRORTRAIL_CONSUMER") or f"{socket.gethostname()}-{os.getpid()}"


def install_signal_handlers(projector: Any) -> None:
    """First SIGTERM/SIGINT: finish the batch and exit 0; a second one: exit now."""

    def handler(signum: int, frame: Any) -> None:
        if projector.stopping:
            os._exit(128 + signum)
        projector.stopping = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
