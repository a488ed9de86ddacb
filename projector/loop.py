"""The consumer loop (I/O): shard leases, reads, one transaction per batch, XACK after commit, signals, heartbeat."""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import redis
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connections
from redis.exceptions import ClusterError, RedisClusterUnreachableError, SlotNotCoveredError, TryAgainError

from contracts import codec
from contracts import known as known_map
from contracts.events import ErrorObserved
from contracts.known import KnownMap
from contracts.names import GROUP_PROJECTOR, Names
from projector import conf
from projector.announce import announce
from projector.entries import decode_fields, raw_event
from projector.handlers import Rules, order_key
from projector.lease import Lease
from projector.prefetch import Prefetcher
from projector.process import Backoff, default_consumer
from projector.store import Fenced, Store
from projector.stream import Reader, ensure_group, group_info, parse_entries, text, wait_for_entries

log = logging.getLogger(__name__)

# A Redis Cluster adds its own: a slot without a node, no node reachable, the cluster down, a slot migrating.
CLUSTER_TRANSIENT = (ClusterError, TryAgainError, SlotNotCoveredError, RedisClusterUnreachableError)
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, *CLUSTER_TRANSIENT, OSError, OperationalError, InterfaceError)
BAD_DATA = (DataError, IntegrityError)
KNOWN_REFRESH_S = 1.0  # how stale the known-issue map may get (it only decides which groups signal)
CRASH_ENV = "ERRORTRAIL_TEST_CRASH_AT"  # tests only: "read:N" / "commit:N" -> SIGKILL at that point of batch N


@dataclass
class Shard:
    """A held shard: its lease, fencing epoch, checkpoint and read positions."""

    index: int
    stream: str
    lease: Lease
    reader: Reader
    epoch: int
    last: tuple[int, int]
    tail: str = "0-0"
    claim_from: str | None = "0-0"
    claim_idle_ms: int = 0
    pending_after: str | None = None
    claim_due: float = 0.0
    idle: bool = False
    prefetcher: Prefetcher | None = None

    def stop_prefetching(self) -> None:
        """Stop the read-ahead thread (what it read stays pending under this consumer)."""
        if self.prefetcher is not None:
            self.prefetcher.stop()
            self.prefetcher = None


@dataclass
class Stats:
    """Counters reported by the heartbeat."""

    events: int = 0
    batches: int = 0
    skipped: int = 0
    dead: int = 0
    signals: int = 0
    last_batch_ms: float = 0.0
    figures: dict = field(default_factory=dict)


class Projector:
    """Projects the error stream's shards that this process holds the lease of."""

    def __init__(self, client: Any, store: Store, cfg: Any = None, names: Names | None = None,
                 consumer: str | None = None, shards: Iterable[int] | None = None, until_idle: bool = False) -> None:
        self.client = client
        self.store = store
        self.cfg = cfg or conf.get()
        self.names = names or conf.names()
        self.rules = Rules.from_conf(self.cfg)
        self.consumer = consumer or default_consumer()
        self.wanted = sorted(set(shards)) if shards is not None else list(range(self.names.shards))
        self.until_idle = until_idle
        ttl = self.cfg["PROJECTOR_LEASE_TTL_S"]
        self.leases = {i: Lease(client, self.names.lease(i), self.consumer, ttl) for i in self.wanted}
        self.held: dict[int, Shard] = {}
        self.known = KnownMap(version=-1)
        self.stats = Stats()
        self.unsent: set[int] = set()
        self.stopping = False
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._batches_seen = 0
        point, _, nth = os.environ.get(CRASH_ENV, "").partition(":")
        self._crash = (point, int(nth or 1)) if point else None

    # -- lifecycle --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the current batch, then leave run() (what SIGTERM does)."""
        self.stopping = True
        self._wake.set()

    def sleep(self, seconds: float) -> None:
        """Wait, waking early when stopping."""
        end = time.monotonic() + seconds
        while not self.stopping and (left := end - time.monotonic()) > 0:
            self._wake.wait(min(left, 0.1))

    def run(self) -> int:
        """Consume until stopped (or, with until_idle, until every wanted shard is drained); returns 0."""
        backoff = Backoff(self.cfg["PROJECTOR_BACKOFF_MAX_S"])
        lease_due = beat_due = known_due = 0.0
        try:
            while not self.stopping:
                try:
                    now = time.monotonic()
                    if now >= beat_due:
                        self.heartbeat()
                        beat_due = now + self.cfg["PROJECTOR_HEARTBEAT_S"]
                    if now >= known_due and self.held:
                        self.check_known()
                        known_due = now + KNOWN_REFRESH_S
                    if now >= lease_due:
                        self.manage_leases()
                        lease_due = now + self.cfg["PROJECTOR_LEASE_TTL_S"] / 3
                    if self.unsent:
                        self.flush_signals()
                    self._ready.clear()
                    worked = False
                    for shard in list(self.held.values()):
                        if self.stopping:
                            break
                        worked = self.step(shard) or worked
                    backoff.reset()
                    if not worked:
                        if self.until_idle and self.drained():
                            break
                        self.wait(lease_due)
                except TRANSIENT as exc:
                    delay = backoff.next()
                    log.warning("projector: %s: %s; retrying in %.1fs", type(exc).__name__, exc, delay)
                    self._recover()
                    self.sleep(delay)
                except redis.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    log.warning("projector: a stream or its group vanished (%s); taking the shards again", exc)
                    for shard in list(self.held.values()):
                        shard.lease.release()
                        self.drop(shard, "stream or group deleted")
                    self.sleep(backoff.next())
        finally:
            self.shutdown()
        return 0

    def _recover(self) -> None:
        db = connections[self.store.alias]
        if db.connection is not None and not db.in_atomic_block and not db.is_usable():
            db.close()  # reconnect on next use (a test's own transaction is left alone)
        for shard in self.held.values():
            shard.stop_prefetching()
            shard.pending_after = "0-0"  # re-read what was read but not committed

    def shutdown(self) -> None:
        """Give the leases up (a standby takes over at once) and remove the heartbeat."""
        for shard in list(self.held.values()):
            shard.stop_prefetching()
            try:
                shard.lease.release()
            except TRANSIENT:
                pass
        self.held.clear()
        try:
            self.client.delete(self.names.heartbeat("projector", self.consumer))
        except TRANSIENT:
            pass
        db = connections[self.store.alias]
        if not db.in_atomic_block:
            db.close()

    # -- leases -----------------------------------------------------------------------------------

    def fair_share(self) -> int:
        """How many shards this process should hold."""
        if self.cfg["PROJECTOR_MAX_SHARDS"]:
            return min(self.cfg["PROJECTOR_MAX_SHARDS"], len(self.wanted))
        if len(self.wanted) <= 1:
            return len(self.wanted)
        live = sum(1 for _ in self.client.scan_iter(match=self.names.heartbeat_pattern("projector"), count=1000))
        return math.ceil(len(self.wanted) / max(1, live))

    def manage_leases(self) -> None:
        """Renew held leases, give up extra shards, and take free ones up to a fair share."""
        for shard in list(self.held.values()):
            if not shard.lease.renew():
                self.drop(shard, "lease lost")
        share = self.fair_share()
        while len(self.held) > share:
            shard = self.held[max(self.held)]
            shard.lease.release()
            self.drop(shard, "rebalancing")
        for index in self.wanted:
            if len(self.held) >= share or self.stopping:
                break
            if index not in self.held and self.leases[index].acquire():
                self.take(index)

    def take(self, index: int) -> None:
        """Start holding a shard: fence earlier holders, then claim every pending entry before reading new ones."""
        lease = self.leases[index]
        stream = self.names.errors(index)
        try:
            ensure_group(self.client, stream, GROUP_PROJECTOR)
            epoch, last = self.store.take(stream, self.consumer)
        except BaseException:
            lease.release()
            raise
        reader = Reader(self.client, stream, GROUP_PROJECTOR, self.consumer, self.names.dead(index))
        self.held[index] = Shard(index, stream, lease, reader, epoch, last, tail=reader.last_delivered())
        log.info("projector %s holds shard %d (epoch %d, checkpoint %d-%d)", self.consumer, index, epoch, *last)
        self.reload_known()
        self.unsent.update(self.store.pending_signals())

    def drop(self, shard: Shard, reason: str) -> None:
        """Forget a shard (its lease is gone or given up)."""
        log.warning("projector %s lets shard %d go: %s", self.consumer, shard.index, reason)
        shard.stop_prefetching()
        shard.lease.token = ""
        self.held.pop(shard.index, None)

    # -- one step ---------------------------------------------------------------------------------

    def step(self, shard: Shard) -> bool:
        """Handle one batch of a shard: claimed entries first, then our own pending, then new ones."""
        count = self.cfg["PROJECTOR_BATCH_COUNT"]
        reader = shard.reader
        if shard.claim_from is None and time.monotonic() >= shard.claim_due:
            shard.claim_from, shard.claim_idle_ms = "0-0", self.cfg["PROJECTOR_CLAIM_IDLE_MS"]
            reader.keep_own_pending()  # ours, waiting out an outage, are not a dead consumer's to claim
        if shard.claim_from is not None:
            reply = self.client.xautoclaim(shard.stream, GROUP_PROJECTOR, self.consumer, shard.claim_idle_ms,
                                           shard.claim_from, count=count)
            cursor, entries = text(reply[0]), parse_entries(reply[1])
            if len(reply) > 2 and reply[2]:
                log.warning("shard %d: %d pending entries were trimmed before being applied", shard.index, len(reply[2]))
            shard.claim_from = None if cursor == "0-0" else cursor
            if shard.claim_from is None:
                shard.claim_due = time.monotonic() + self.cfg["PROJECTOR_CLAIM_INTERVAL_S"]
            if entries:
                self.handle(shard, entries, reader.deliveries(entries[0][0], entries[-1][0], len(entries)))
                return True
            if shard.claim_from is not None:
                return True
        if shard.pending_after is not None:
            entries = reader.read_own_pending(shard.pending_after, count)
            if not entries:
                shard.pending_after = None
                return True
            shard.pending_after = entries[-1][0]
            if order_key(shard.pending_after) > order_key(shard.tail):
                shard.tail = shard.pending_after
            self.handle(shard, entries, reader.deliveries(entries[0][0], entries[-1][0], len(entries)))
            return True
        if self.cfg["PROJECTOR_PREFETCH"]:
            return self._step_prefetched(shard, count)
        entries, shard.tail, shard.idle = reader.read_new(shard.tail, count)
        if not entries:
            return False
        self.handle(shard, entries, None)
        return True

    def _step_prefetched(self, shard: Shard, count: int) -> bool:
        if shard.prefetcher is None:
            shard.prefetcher = Prefetcher(shard.reader, shard.tail, count, self.cfg["PROJECTOR_BLOCK_MS"],
                                          decode_fields, self._ready).start()
        batch = shard.prefetcher.get()
        if batch is None:
            return False
        if batch.error is not None:
            raise batch.error
        shard.tail, shard.idle = batch.tail, batch.idle
        if batch.idle:
            return False
        self.handle(shard, batch.entries, None, batch.decoded)
        return True

    def handle(self, shard: Shard, entries: list, deliveries: dict[str, int] | None,
               decoded: list | None = None) -> None:
        """Decode, apply in one transaction, then dead-letter and XACK together, then publish signals."""
        started = time.perf_counter()
        limit = self.cfg["PROJECTOR_MAX_DELIVERIES"]
        last = shard.last
        newest = last
        fresh: list[tuple[str, ErrorObserved]] = []
        dead: list[tuple[str, bytes, str]] = []
        ids = [entry_id for entry_id, _ in entries]
        all_new = bool(entries) and order_key(ids[0]) > last  # ids ascend: one comparison decides for the batch
        if decoded is None:
            decoded = [decode_fields(fields) for _, fields in entries]
        for (entry_id, fields), event in zip(entries, decoded):
            if isinstance(event, codec.ContractError):
                dead.append((entry_id, raw_event(fields) or b"", str(event)))
                continue
            if not all_new and order_key(entry_id) <= last:
                self.stats.skipped += 1
                continue
            times = deliveries.get(entry_id, 0) if deliveries else 0
            if times > limit:
                dead.append((entry_id, raw_event(fields), f"delivered {times} times (limit {limit})"))
                continue
            fresh.append((entry_id, event))
        if fresh:
            newest = order_key(fresh[-1][0])
        self.crash_point("read")
        signalled: list[int] = []
        if fresh:
            try:
                plan = self.store.apply(shard.stream, shard.epoch, last, newest, fresh, self.known, self.rules)
                shard.last = newest
                signalled = [g.group_id for g in plan.signals]
                self.stats.events += plan.events
            except Fenced:
                # A newer holder took the shard, or our own commit landed though its reply was lost: re-take.
                shard.lease.release()
                self.drop(shard, "checkpoint fenced")
                return
            except BAD_DATA as exc:
                log.warning("shard %d: batch refused by the database (%s); retrying it in safe mode", shard.index, exc)
                signalled = self.retry_safely(shard, fresh, newest, dead)
        self.crash_point("commit")
        shard.reader.finish(ids, dead)
        self.stats.batches += 1
        self.stats.dead += len(dead)
        self.stats.last_batch_ms = (time.perf_counter() - started) * 1000
        for entry_id, _, reason in dead:
            log.warning("shard %d: entry %s dead-lettered: %s", shard.index, entry_id, reason)
        if signalled:
            self.unsent.update(signalled)
            self.flush_signals()

    def retry_safely(self, shard: Shard, fresh: list, newest: tuple[int, int], dead: list) -> list[int]:
        """The batch again with per-row conflict handling; if still refused, one entry per transaction."""
        try:
            plan = self.store.apply(shard.stream, shard.epoch, shard.last, newest, fresh, self.known, self.rules,
                                    safe=True)
        except BAD_DATA as exc:
            log.error("shard %d: batch refused again (%s); applying entries one by one", shard.index, exc)
            return self.isolate(shard, fresh, dead)
        shard.last = newest
        self.stats.events += plan.events
        return [g.group_id for g in plan.signals]

    def isolate(self, shard: Shard, fresh: list, dead: list) -> list[int]:
        """Apply entries one per transaction; the ones the database refuses go to the dead letters."""
        signalled = []
        for entry_id, event in fresh:
            key = order_key(entry_id)
            try:
                plan = self.store.apply(shard.stream, shard.epoch, shard.last, key, [(entry_id, event)],
                                        self.known, self.rules, safe=True)
            except BAD_DATA as exc:
                dead.append((entry_id, codec.encode(event), f"database refused it: {exc}"[:500]))
                continue
            shard.last = key
            self.stats.events += plan.events
            signalled.extend(g.group_id for g in plan.signals)
        return signalled

    def crash_point(self, point: str) -> None:
        """Tests only: die like kill -9 at a named point of the Nth batch."""
        if self._crash and self._crash[0] == point:
            self._batches_seen += 1
            if self._batches_seen >= self._crash[1]:
                os.kill(os.getpid(), signal.SIGKILL)

    def flush_signals(self) -> None:
        """Publish committed signals not yet sent (kept for the next try if Redis fails)."""
        sent = set(self.unsent)
        self.stats.signals += announce(self.client, self.names, self.store, sent, self.rules.threshold,
                                       self.cfg["SIGNALS_MAXLEN"])
        self.unsent -= sent

    def check_known(self) -> None:
        """Reload the known-issue map if its version moved (one GET)."""
        if known_map.parse_version(self.client.get(self.names.known_version)) != self.known.version:
            self.reload_known()

    def reload_known(self) -> None:
        """Load the known-issue map (its version moved)."""
        self.known = known_map.load(self.client, self.names)
        if self.known.invalid:
            log.warning("known-issue map: %d invalid entries skipped", self.known.invalid)

    # -- idling, draining, heartbeat ---------------------------------------------------------------

    def wait(self, lease_due: float) -> None:
        """Block on the held streams until something arrives (standby: sleep until the next lease attempt)."""
        left_ms = int((lease_due - time.monotonic()) * 1000)
        if not self.held:
            self.sleep(max(0.0, min(left_ms / 1000, 0.5)))
            return
        block = max(1, min(self.cfg["PROJECTOR_BLOCK_MS"], left_ms))
        if self.cfg["PROJECTOR_PREFETCH"]:
            self._ready.wait(block / 1000)
            return
        wait_for_entries(self.client, {s.stream: s.tail for s in self.held.values()}, block, self.names.cluster)

    def drained(self) -> bool:
        """Whether every wanted shard's stream has been applied and acked (by us or by its holder)."""
        for index in self.wanted:
            shard = self.held.get(index)
            if shard is not None:
                if not shard.idle or shard.claim_from is not None or shard.pending_after is not None:
                    return False
                continue
            info = group_info(self.client, self.names.errors(index), GROUP_PROJECTOR)
            if info.get("pending") or info.get("lag") != 0 or self.leases[index].holder() is None:
                return False
        return True

    def heartbeat(self) -> None:
        """Write the heartbeat hash (held shards, lag, pending, counters) with a TTL."""
        lag = pending = 0
        mapping: dict[str, Any] = {}
        for shard in self.held.values():
            info = group_info(self.client, shard.stream, GROUP_PROJECTOR)
            shard_lag = info.get("lag") or 0
            lag += shard_lag
            pending += info.get("pending", 0)
            mapping[f"lag:{shard.index}"] = shard_lag
            mapping[f"pending:{shard.index}"] = info.get("pending", 0)
        s = self.stats
        mapping.update({
            "role": "projector", "consumer": self.consumer, "host": socket.gethostname(), "pid": os.getpid(),
            "state": "active" if self.held else "standby", "shards": ",".join(map(str, sorted(self.held))),
            "updated_ms": int(time.time() * 1000), "events": s.events, "batches": s.batches, "skipped": s.skipped,
            "dead": s.dead, "signals": s.signals, "last_batch_ms": round(s.last_batch_ms, 2), "lag": lag,
            "pending": pending,
        })
        key = self.names.heartbeat("projector", self.consumer)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=mapping)
        pipe.pexpire(key, int(self.cfg["PROJECTOR_HEARTBEAT_S"] * 3000))
        pipe.execute()
        s.figures = mapping
