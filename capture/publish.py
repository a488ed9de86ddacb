"""The only XADD on the hot path: one pipelined round trip per error, a circuit breaker, the spool fallback."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from typing import Any

import redis
from django.core.signals import setting_changed
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from capture import conf
from capture.build import host_of, shrink, weighted_event
from capture.coalesce import Coalescer
from capture.known import KnownCache
from capture.spool import Spool
from contracts import codec
from contracts.events import ErrorObserved
from contracts.names import EVENT_FIELD, Names

log = logging.getLogger(__name__)

SENT, SPOOLED, DROPPED = "sent", "spooled", "dropped"
_REDIS_ERRORS = (redis.RedisError, RedisClusterException, OSError)


class Breaker:
    """Closed until `failures` consecutive errors; then open for `reset_s`; then one trial call."""

    def __init__(self, failures: int, reset_s: float, clock: Any = time.monotonic) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self.clock = clock
        self.consecutive = 0
        self.opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Whether calls are being refused right now."""
        return self.opened_at is not None

    def allow(self) -> bool:
        """Whether a call may go to Redis now."""
        with self._lock:
            if self.opened_at is None:
                return True
            if not self._trial and self.clock() - self.opened_at >= self.reset_s:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        """A call succeeded: close."""
        with self._lock:
            self.consecutive = 0
            self.opened_at = None
            self._trial = False

    def failure(self) -> bool:
        """A call failed; True when this failure opened the breaker."""
        with self._lock:
            self.consecutive += 1
            if self.opened_at is not None:
                self.opened_at = self.clock()
                self._trial = False
                return False
            if self.consecutive >= self.failures:
                self.opened_at = self.clock()
                return True
            return False


def make_client(url: str, timeout_s: float, connect_timeout_s: float | None = None, cluster: bool = False) -> Any:
    """A Redis (or Redis Cluster) client with the given timeouts and no automatic retries."""
    options = dict(socket_timeout=timeout_s, socket_connect_timeout=connect_timeout_s or timeout_s,
                   retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
    if cluster:
        return LazyCluster(lambda: RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(url, health_check_interval=0, **options)


class LazyCluster:
    """A RedisCluster made on first use: its constructor asks the cluster for its slots, which must neither
    happen at import nor fail outside the breaker when the cluster is down (it is retried on the next use)."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
        return getattr(self._client, name)


class Publisher:
    """Per-process sender of error events, owner of the breaker, the spool, the known cache and counters."""

    def __init__(self, cfg: Any, names: Names, client: Any = None, flush_client: Any = None) -> None:
        self.cfg = cfg
        self.names = names
        url, cluster = cfg["REDIS_URL"], cfg["REDIS_CLUSTER"]
        self.client = client or make_client(url, cfg["SOCKET_TIMEOUT_S"], cfg["CONNECT_TIMEOUT_S"], cluster)
        self.flush_client = flush_client or make_client(url, 2.0, 0.5, cluster)
        self.breaker = Breaker(cfg["BREAKER_FAILURES"], cfg["BREAKER_RESET_S"])
        self.spool = Spool(cfg["SPOOL_DIR"], cfg["SPOOL_MAX_BYTES"])
        self.known = KnownCache(cfg["KNOWN_REFRESH_S"])
        self.coalescer = Coalescer(
            cfg["COALESCE_WINDOW_S"], cfg["COALESCE_FULL"], cfg["MAX_EVENTS_PER_S"], cfg["COALESCE_MAX_KEYS"]
        )
        self.maxlen = cfg["STREAM_MAXLEN"]
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self._spooled_since_flush = self.spool.has_files()
        self.wake: Any = lambda: None  # the background thread's wake-up, once it runs

    def count(self, key: str, field: str, n: int = 1) -> None:
        """Add to a Redis hash counter, sent by the next tick."""
        with self._lock:
            self._counts[(key, field)] += n

    def drop(self, reason: str) -> None:
        """Count an event capture could not deliver."""
        log.warning("errortrail dropped an event: %s", reason)
        self.count(self.names.drops, reason)

    def publish(self, *events: ErrorObserved) -> str:
        """Send events (XADDs pipelined with the known-map version read: one round trip); spool them when Redis is out.

        Returns the fate of the first event: SENT, SPOOLED or DROPPED.
        """
        encoded = []
        for event in events:
            data = self._encode(event)
            if data is not None:
                encoded.append((self.names.errors_for(event.fingerprint), data))
            if event.known_bug:
                self.count(self.names.known_views, event.known_bug, event.weight)
        if not encoded:
            return DROPPED
        failed = self._send(encoded) if self.breaker.allow() else range(len(encoded))
        fates = [SENT] * len(encoded)
        for index in failed:
            fates[index] = self._to_spool(*encoded[index])
        return fates[0] if len(encoded) == len(events) else DROPPED

    def _send(self, encoded: list[tuple[str, bytes]]) -> list[int]:
        """XADD the events pipelined with the known-map version read (one logical send); the indices not stored."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for stream, data in encoded:
                pipe.xadd(stream, {EVENT_FIELD: data}, maxlen=self.maxlen, approximate=True)
            pipe.get(self.names.known_version)
            replies = pipe.execute(raise_on_error=False)
        except _REDIS_ERRORS as exc:
            replies = [exc] * (len(encoded) + 1)
        # On a Redis Cluster the pipeline is split per node: one node may fail while the others store their events.
        error = next((reply for reply in replies if isinstance(reply, Exception)), None)
        if error is None:
            self.breaker.success()
            if self.known.note_version(replies[-1]):
                self.wake()
        elif self.breaker.failure():
            log.warning("errortrail: Redis unreachable (%s); spooling events locally", error)
            self.count(self.names.capture_stats, "breaker_opened")
        return [i for i, reply in enumerate(replies[:-1]) if isinstance(reply, Exception)]

    def hold_or_send(self, obs: Any, request: Any, full_event: Any) -> None:
        """Deliver one occurrence: in full (with any windows that ended) or folded into its window's weight."""
        if self.coalescer.offer(obs.fingerprint, (obs, request.method, request.path, host_of(request)[0])):
            self.publish(full_event(), *self._weighted(self.coalescer.due()))
        else:
            self._flush_held()

    def _weighted(self, held: list) -> list[ErrorObserved]:
        return [weighted_event(window.latest, window.weight, self.cfg) for _, window in held]

    def _flush_held(self) -> None:
        ended = self.coalescer.due()
        if ended:
            self.publish(*self._weighted(ended))

    def _encode(self, event: ErrorObserved) -> bytes | None:
        # An event over the size limit loses frame details, then request data, rather than being lost.
        error: codec.ContractError | None = None
        for level in (0, 1, 2):
            try:
                data = codec.encode(event if level == 0 else shrink(event, level))
            except codec.ContractError as exc:
                error = exc
                continue
            if level:
                self.count(self.names.capture_stats, "shrunk")
            return data
        log.error("errortrail built an invalid event: %s", error)
        self.drop("invalid")
        if self.cfg["REPORT_INTERNAL_ERRORS"]:
            raise error  # type: ignore[misc]
        return None

    def _to_spool(self, stream: str, data: bytes) -> str:
        reason = self.spool.write(stream, data)
        if reason:
            self.drop(reason)
            return DROPPED
        self._spooled_since_flush = True
        self.count(self.names.capture_stats, "spooled")
        return SPOOLED

    def tick(self) -> None:
        """Background work: refresh the known map, flush the spool, push counters. Never raises."""
        for step in (self._flush_held, self._refresh_known, self._flush_spool, self._push_counts):
            try:
                step()
            except _REDIS_ERRORS as exc:
                log.debug("errortrail background step %s: %s", step.__name__, exc)
            except Exception:
                log.exception("errortrail background step %s failed", step.__name__)
                if self.cfg["REPORT_INTERNAL_ERRORS"]:
                    raise

    def _refresh_known(self) -> None:
        if self.known.due():
            self.known.refresh(self.flush_client, self.names)

    def _flush_spool(self) -> None:
        # Doubles as the breaker's probe: once Redis answers here, requests may use it again.
        if not (self._spooled_since_flush or self.breaker.is_open):
            return
        if self.breaker.is_open:
            self.flush_client.ping()
        if self._spooled_since_flush:
            sent = self.spool.flush(self.flush_client, self.names.spool_done, self.maxlen)
            self._spooled_since_flush = self.spool.has_files()
            if sent:
                log.info("errortrail flushed %d spooled events", sent)
                self.count(self.names.capture_stats, "flushed", sent)
        self.breaker.success()

    def _push_counts(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        items = list(counts.items())
        try:
            pipe = self.flush_client.pipeline(transaction=False)
            for (key, field), n in items:
                pipe.hincrby(key, field, n)
            replies = pipe.execute(raise_on_error=False)
        except BaseException:
            with self._lock:
                self._counts.update(counts)
            raise
        # On a Redis Cluster the pipeline is split per node: keep (for the next tick) only what a node refused.
        failed = [(item, reply) for item, reply in zip(items, replies) if isinstance(reply, Exception)]
        if failed:
            with self._lock:
                self._counts.update(dict(item for item, _ in failed))
            raise failed[0][1]

    def close(self) -> None:
        """At process exit: send (or spool) every held count, then a final tick unless Redis is out."""
        held = self.coalescer.drain()
        if held:
            self.publish(*self._weighted(held))
        self.spool.seal_all()
        if not self.breaker.is_open:
            self.tick()


class _Worker(threading.Thread):
    def __init__(self, publisher: Publisher, period_s: float) -> None:
        super().__init__(name="errortrail-capture", daemon=True)
        self.publisher = publisher
        self.period_s = period_s
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.ticks = 0
        self.ticked = threading.Condition()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.wake.clear()  # before the tick, so a wake-up during it is never lost
            self.publisher.tick()
            with self.ticked:
                self.ticks += 1
                self.ticked.notify_all()
            self.wake.wait(self.period_s)

    def wait_ticks(self, count: int, timeout_s: float) -> bool:
        """Wake the thread until it has finished `count` more ticks (False on timeout)."""
        deadline = time.monotonic() + timeout_s
        with self.ticked:
            target = self.ticks + count
            while self.ticks < target and self.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.wake.set()
                self.ticked.wait(remaining)
            return self.ticks >= target


_state: dict[str, Any] = {"pid": None, "publisher": None, "worker": None}
_state_lock = threading.Lock()


def get_publisher() -> Publisher:
    """This process's publisher (made after fork on first use), with its background thread."""
    publisher = _state["publisher"]
    if publisher is not None and _state["pid"] == os.getpid():
        return publisher
    with _state_lock:
        if _state["publisher"] is None or _state["pid"] != os.getpid():
            cfg = conf.get()
            publisher = Publisher(cfg, conf.names())
            _state.update(pid=os.getpid(), publisher=publisher, worker=None)
            if cfg["BACKGROUND"]:
                thread = _Worker(publisher, cfg["TICK_S"])
                publisher.wake = thread.wake.set
                thread.start()
                _state["worker"] = thread
        return _state["publisher"]


def worker() -> Any:
    """This process's background thread, if one runs."""
    return _state["worker"] if _state["pid"] == os.getpid() else None


def reset() -> None:
    """Forget this process's publisher (settings changed, or tests); its thread finishes its tick and stops."""
    with _state_lock:
        thread = _state.get("worker")
        _state.update(pid=None, publisher=None, worker=None)
    if thread is not None:
        thread.stopped.set()
        thread.wake.set()
        if thread is not threading.current_thread():
            thread.join(timeout=10)


@atexit.register
def _at_exit() -> None:
    publisher = _state.get("publisher")
    if publisher is not None and _state.get("pid") == os.getpid():
        try:
            publisher.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def _on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "ERRORTRAIL":
        reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="errortrail-capture-publisher-reset")
