"""Reading and decoding a shard's next batch in a thread while the current one is written to the database."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from projector.lease import Lease
from projector.stream import Reader, wait_for_entries


@dataclass
class Batch:
    """What the prefetcher hands over: entries with their decoded events, or why there are none."""

    entries: list = field(default_factory=list)
    decoded: list = field(default_factory=list)
    tail: str | None = None
    lost: bool = False
    error: BaseException | None = None


class Prefetcher:
    """One thread per held shard: fenced XREADGROUP '>' then decode, one batch ahead of the writer.

    Entries it read but the writer never took stay pending under this consumer: after stop(), the loop
    drains its own pending list first, so nothing is skipped or reordered.
    """

    def __init__(self, reader: Reader, lease: Lease, count: int, block_ms: int,
                 decode: Callable[[Any], Any], ready: threading.Event) -> None:
        self.reader = reader
        self.lease = lease
        self.count = count
        self.block_ms = block_ms
        self.decode = decode
        self.ready = ready
        self.queue: queue.Queue[Batch] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"prefetch {reader.stream}", daemon=True)

    def start(self) -> "Prefetcher":
        """Start reading."""
        self.thread.start()
        return self

    def get(self) -> Batch | None:
        """The next batch if one is ready."""
        try:
            return self.queue.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Stop reading and forget anything not taken yet."""
        self._stop.set()
        self.thread.join()
        while self.get() is not None:
            pass

    def _put(self, batch: Batch) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(batch, timeout=0.05)
            except queue.Full:
                continue
            self.ready.set()
            return True
        return False

    def _run(self) -> None:
        client = self.reader.client
        while not self._stop.is_set():
            try:
                reply = self.reader.read_new(self.lease.token, self.lease.key, self.count)
                if reply is None:
                    self._put(Batch(lost=True))
                    return
                if isinstance(reply, str):
                    if self._put(Batch(tail=reply)):
                        wait_for_entries(client, {self.reader.stream: reply}, self.block_ms)
                    continue
                self._put(Batch(entries=reply, decoded=[self.decode(fields) for _, fields in reply]))
            except BaseException as exc:  # handed to the loop, which backs off and restarts this thread
                self._put(Batch(error=exc))
                return
