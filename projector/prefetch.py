"""Reading and decoding the next batch in a thread while the current one is written to the database."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from projector.stream import Reader, wait_for_entries


@dataclass
class Batch:
    """What the prefetcher hands over: entries with their decoded events, or why there are none."""

    entries: list = field(default_factory=list)
    decoded: list = field(default_factory=list)
    tail: str = ""
    idle: bool = False
    error: BaseException | None = None


class Prefetcher:
    """One thread per held shard: XREADGROUP '>' (see Reader.read_new) then decode, a batch ahead of the writer."""

    # What it read but the writer never took stays pending under this consumer: after stop() the loop
    # drains its own pending entries first, so nothing is skipped or reordered.

    def __init__(self, reader: Reader, tail: str, count: int, block_ms: int,
                 decode: Callable[[Any], Any], ready: threading.Event) -> None:
        self.reader = reader
        self.tail = tail
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
                entries, self.tail, caught_up = self.reader.read_new(self.tail, self.count)
                if caught_up:
                    if self._put(Batch(tail=self.tail, idle=True)):
                        wait_for_entries(client, {self.reader.stream: self.tail}, self.block_ms)
                    continue
                self._put(Batch(entries=entries, decoded=[self.decode(fields) for _, fields in entries], tail=self.tail))
            except BaseException as exc:  # handed to the loop, which backs off and restarts this thread
                self._put(Batch(error=exc))
                return


def read_ahead(items: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """Produce items in a thread, up to depth ahead of the consumer (its errors re-raised here)."""
    handover: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handover.put((item, None), timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handover.put((done, None))
        except BaseException as exc:  # re-raised in the consumer
            handover.put((done, exc))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handover.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                handover.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()
