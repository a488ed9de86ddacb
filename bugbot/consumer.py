"""A reliable consumer-group loop over one stream, independent of what the handler does with the events.

Rules: drain our own pending entries first (id 0, then a cursor), then read new ones (`>`); XAUTOCLAIM what
dead consumers left; ack only after the handler returns; dead-letter undecodable or poison entries with a
reason; retry a batch that hit a transient error (database or Redis down) in memory, without re-reading it;
heartbeat with a TTL; stop gracefully when asked.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import redis
from redis.exceptions import RedisClusterUnreachableError, SlotNotCoveredError

from contracts import codec
from contracts.names import EVENT_FIELD

log = logging.getLogger(__name__)
_FIELD = EVENT_FIELD.encode()


class Reject(Exception):
    """Raised by a handler for a message that can never be processed: it goes to the dead letters at once."""


@dataclass(frozen=True)
class Message:
    """One decoded stream entry."""

    id: str
    event: Any
    deliveries: int = 1
    raw: bytes = b""


@dataclass
class ConsumerConfig:
    """Where to read, who we are, and the loop's limits."""

    stream: str
    group: str
    consumer: str
    dead_stream: str
    heartbeat_key: str
    role: str
    count: int = 10
    block_ms: int = 1000
    claim_idle_ms: int = 900_000
    claim_every_s: float = 30.0
    max_deliveries: int = 5
    max_failures: int = 3
    heartbeat_ttl_s: int = 30
    tick_every_s: float = 30.0
    dead_maxlen: int = 100_000
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0


@dataclass
class Stats:
    """Counters the heartbeat reports."""

    processed: int = 0
    failed: int = 0
    dead: int = 0
    claimed: int = 0
    errors: int = 0
    last_error: str = ""
    failures: dict = field(default_factory=dict)


def _id(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StreamConsumer:
    """Runs `handle(messages)` over a consumer group; `tick()` runs every tick_every_s for periodic work."""

    def __init__(self, client: Any, config: ConsumerConfig, handle: Callable[[list[Message]], None],
                 tick: Callable[[], Any] | None = None, transient: tuple[type[BaseException], ...] = (),
                 decode: Callable[[Any], Any] = codec.decode, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.cfg = config
        self.handle = handle
        self.tick = tick
        self.transient = (redis.RedisError, SlotNotCoveredError, RedisClusterUnreachableError, OSError, *transient)
        self.decode = decode
        self.clock = clock
        self.stats = Stats()
        self.stopping = threading.Event()
        self._drain_from: str | None = "0"
        self._redrain_at: float | None = None
        self._held: list[Message] = []
        self._next_claim = self._next_tick = self._next_beat = float("-inf")
        self._outage = 0
        self._group_ready = False
        self._started_ms = int(time.time() * 1000)

    def stop(self) -> None:
        """Finish the current batch, then leave run()."""
        self.stopping.set()

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing."""
        try:
            self.client.xgroup_create(self.cfg.stream, self.cfg.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, until_idle: bool = False) -> int:
        """Consume until stop() (or, with until_idle, until nothing is left to do); returns an exit code."""
        log.info("%s %s: consuming %s", self.cfg.role, self.cfg.consumer, self.cfg.stream)
        try:
            while not self.stopping.is_set():
                try:
                    busy = self.step()
                    self._outage = 0
                except self.transient as exc:
                    self._outage += 1
                    self._note_error(exc)
                    if isinstance(exc, redis.ResponseError) and str(exc).startswith("NOGROUP"):
                        self._group_ready = False  # Redis lost the stream or group (a restart): make it again
                    if not self._held:  # entries read but not handled are in our pending list
                        self._drain_from = "0"
                    delay = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2 ** (self._outage - 1))
                    log.warning("%s: %s; retrying in %.1fs", self.cfg.role, exc, delay)
                    self.stopping.wait(delay)
                    continue
                if until_idle and not busy and self.idle:
                    break
        finally:
            self._farewell()
        return 0

    @property
    def idle(self) -> bool:
        """Nothing held, nothing left to drain, no failed entry waiting for a retry."""
        return not self._held and self._drain_from is None and self._redrain_at is None

    def step(self) -> bool:
        """One iteration: heartbeat, claim, tick, then one batch; False when there was nothing to read."""
        now = self.clock()
        if not self._group_ready:
            self.ensure_group()
            self._group_ready = True
        if now >= self._next_beat:
            self.heartbeat("running")
            self._next_beat = now + max(1.0, self.cfg.heartbeat_ttl_s / 3)
        if now >= self._next_claim:
            self._next_claim = now + self.cfg.claim_every_s
            if self.autoclaim():
                self._drain_from = self._drain_from or "0"
        if self.tick is not None and now >= self._next_tick:
            self._next_tick = now + self.cfg.tick_every_s
            self.tick()
        if self._held:
            held, self._held = self._held, []
            self._deliver(held)
            return True
        if self._drain_from is None and self._redrain_at is not None and now >= self._redrain_at:
            self._redrain_at = None
            self._drain_from = "0"
        if self._drain_from is not None:
            entries = self._read(self._drain_from)
            if entries:
                self._drain_from = _id(entries[-1][0])
                self._process(entries, pending=True)
                return True
            self._drain_from = None
        entries = self._read(">")
        if not entries:
            return False
        self._process(entries, pending=False)
        return True

    def _read(self, start: str) -> list:
        block = self.cfg.block_ms if start == ">" else None
        reply = self.client.xreadgroup(self.cfg.group, self.cfg.consumer, {self.cfg.stream: start},
                                       count=self.cfg.count, block=block)
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3 shape
            return next(iter(reply.values()), [[]])[0]
        return reply[0][1]

    def _deliveries(self, entries: list) -> dict[str, int]:
        first, last = _id(entries[0][0]), _id(entries[-1][0])
        rows = self.client.xpending_range(self.cfg.stream, self.cfg.group, min=first, max=last, count=len(entries),
                                          consumername=self.cfg.consumer)
        return {_id(row["message_id"]): int(row["times_delivered"]) for row in rows}

    def _process(self, entries: list, pending: bool) -> None:
        counts = self._deliveries(entries) if pending else {}
        good = []
        for raw_id, fields in entries:
            entry_id = _id(raw_id)
            if not fields:  # trimmed while pending: nothing left to process
                self._ack(entry_id)
                continue
            raw = fields.get(_FIELD, fields.get(EVENT_FIELD, b""))
            deliveries = counts.get(entry_id, 1)
            if deliveries > self.cfg.max_deliveries:
                self._dead(entry_id, raw, f"delivered {deliveries} times without being acknowledged", deliveries)
                continue
            try:
                event = self.decode(raw)
            except codec.ContractError as exc:
                self._dead(entry_id, raw, f"undecodable: {exc}", deliveries)
                continue
            good.append(Message(entry_id, event, deliveries, raw if isinstance(raw, bytes) else b""))
        if good:
            self._deliver(good)

    def _deliver(self, messages: list[Message]) -> None:
        try:
            self.handle(messages)
        except self.transient as exc:
            # The database or Redis is down: keep the batch in memory and retry it after a backoff.
            self._held = messages
            raise exc
        except Exception:
            if len(messages) == 1:
                self._failed(messages[0])
                return
            for message in messages:
                self._deliver_one(message)
            return
        self._ack(*(m.id for m in messages))
        self.stats.processed += len(messages)

    def _deliver_one(self, message: Message) -> None:
        try:
            self.handle([message])
        except self.transient:
            self._held.append(message)
            return
        except Exception:
            self._failed(message)
            return
        self._ack(message.id)
        self.stats.processed += 1

    def _failed(self, message: Message) -> None:
        """A handler error for one message: dead-letter it (Reject, or too many failures) or retry it later."""
        exc = sys.exc_info()[1]
        if isinstance(exc, Reject):
            self._dead(message.id, message.raw, f"rejected: {exc}", message.deliveries)
            return
        failures = self.stats.failures.get(message.id, 0) + 1
        self.stats.failed += 1
        self._note_error(exc)
        log.exception("%s: handling %s failed (%d)", self.cfg.role, message.id, failures)
        if failures >= self.cfg.max_failures:
            self.stats.failures.pop(message.id, None)
            self._dead(message.id, message.raw, f"handler failed {failures} times: {exc}", message.deliveries)
            return
        self.stats.failures[message.id] = failures
        delay = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2 ** (failures - 1))
        self._redrain_at = self.clock() + delay

    def _ack(self, *entry_ids: str) -> None:
        if entry_ids:
            self.client.xack(self.cfg.stream, self.cfg.group, *entry_ids)
            for entry_id in entry_ids:
                self.stats.failures.pop(entry_id, None)

    def _dead(self, entry_id: str, raw: Any, reason: str, deliveries: int) -> None:
        """Move an entry to the dead letters with its reason, then ack it."""
        log.error("%s: entry %s to %s: %s", self.cfg.role, entry_id, self.cfg.dead_stream, reason[:300])
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.cfg.dead_stream, {
            EVENT_FIELD: raw if isinstance(raw, (bytes, str)) else b"", "reason": reason[:1000],
            "stream": self.cfg.stream, "id": entry_id, "group": self.cfg.group, "consumer": self.cfg.consumer,
            "deliveries": deliveries, "ts": int(time.time() * 1000),
        }, maxlen=self.cfg.dead_maxlen, approximate=True)
        pipe.xack(self.cfg.stream, self.cfg.group, entry_id)
        pipe.execute()
        self.stats.dead += 1

    def autoclaim(self) -> int:
        """Take over entries other consumers left pending longer than claim_idle_ms; how many."""
        claimed, cursor = 0, "0-0"
        for _ in range(100):
            # Not justid: redis-py then drops the cursor from the reply.
            reply = self.client.xautoclaim(self.cfg.stream, self.cfg.group, self.cfg.consumer,
                                           min_idle_time=self.cfg.claim_idle_ms, start_id=cursor, count=100)
            cursor = _id(reply[0])
            claimed += len(reply[1])
            if cursor == "0-0":
                break
        if claimed:
            log.info("%s: claimed %d pending entries", self.cfg.role, claimed)
            self.stats.claimed += claimed
        return claimed

    def heartbeat(self, state: str) -> None:
        """Write the heartbeat hash with its TTL."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.cfg.heartbeat_key, mapping={
            "role": self.cfg.role, "consumer": self.cfg.consumer, "pid": os.getpid(), "host": socket.gethostname(),
            "state": state, "updated_ms": int(time.time() * 1000), "started_ms": self._started_ms,
            "processed": self.stats.processed, "failed": self.stats.failed, "dead": self.stats.dead,
            "claimed": self.stats.claimed, "errors": self.stats.errors, "last_error": self.stats.last_error[:300],
        })
        pipe.expire(self.cfg.heartbeat_key, self.cfg.heartbeat_ttl_s)
        pipe.execute()

    def _note_error(self, exc: BaseException | None) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]

    def _farewell(self) -> None:
        try:
            self.client.delete(self.cfg.heartbeat_key)
        except self.transient as exc:
            log.warning("%s: could not remove the heartbeat: %s", self.cfg.role, exc)
        log.info("%s %s: stopped (%d processed, %d dead)", self.cfg.role, self.cfg.consumer, self.stats.processed,
                 self.stats.dead)
