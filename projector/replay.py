"""Rebuilding every projection from the streams, then moving the consumer group and checkpoints past it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from contracts import codec
from contracts import known as known_map
from contracts.names import GROUP_PROJECTOR, Names
from projector.handlers import Rules, order_key
from projector.lease import Lease
from projector.entries import decode_fields
from projector.prefetch import read_ahead
from projector.models import ErrorGroup
from projector.store import Store
from projector.stream import ensure_group, parse_entries

MAX_SEQ = 2**63 - 1  # the checkpoint's columns are signed 64-bit; no millisecond holds that many entries


class LeaseHeld(Exception):
    """A live projector holds a shard's lease."""

    def __init__(self, shard: int, holder: str) -> None:
        super().__init__(f"shard {shard} is held by {holder}")
        self.shard = shard
        self.holder = holder


@dataclass
class ReplayResult:
    """What a replay did."""

    events: int = 0
    entries: int = 0
    invalid: int = 0
    seconds: float = 0.0
    positions: dict[str, str] = field(default_factory=dict)


def _states(store: Store) -> list[tuple]:
    """What people decided about groups (not in the stream): kept across the rebuild."""
    rows = ErrorGroup.objects.using(store.alias).exclude(state=ErrorGroup.UNRESOLVED, signalled_at=None)
    return list(rows.values_list("fingerprint", "state", "state_changed_at", "signalled_at"))


def _restore(store: Store, states: list[tuple]) -> None:
    groups = ErrorGroup.objects.using(store.alias)
    # Signals were sent (or are due from the scan): the rebuild itself publishes nothing.
    groups.filter(signal_pending=True).update(signal_pending=False)
    for fingerprint, state, changed_at, signalled_at in states:
        groups.filter(fingerprint=fingerprint).update(state=state, state_changed_at=changed_at, signalled_at=signalled_at)


def before(start: str) -> str:
    """The id just below start ('0-0' for the beginning)."""
    if start in ("-", "0", "0-0"):
        return "0-0"
    ms, seq = order_key(start)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{MAX_SEQ}" if ms > 0 else "0-0"


def replay(
    client: Any,
    store: Store,
    names: Names,
    cfg: Any,
    start: str = "-",
    take_lease: bool = False,
    consumer: str = "replay",
    batch: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Empty the projections and apply every entry from start (an id, or '-') in one transaction; idempotent."""
    result = ReplayResult()
    started = time.perf_counter()
    leases = [Lease(client, names.lease(i), consumer, cfg["PROJECTOR_LEASE_TTL_S"]) for i in range(names.shards)]
    for index, lease in enumerate(leases):
        holder = lease.holder()
        if holder is not None and not take_lease:
            raise LeaseHeld(index, holder)
    rules = Rules.from_conf(cfg)
    known = known_map.load(client, names)
    total = sum(client.xlen(s) for s in names.all_errors())
    try:
        for lease in leases:
            lease.acquire(force=True)
        epochs = {s: store.take(s, consumer)[0] for s in names.all_errors()}
        with store.atomic():
            states = _states(store)
            store.empty()
            store.states = {}
            for stream in names.all_errors():
                last = _replay_stream(client, store, stream, start, batch, known, rules, leases, result, total, progress)
                store.restart(stream, epochs[stream], order_key(last))
                result.positions[stream] = last
            _restore(store, states)
        for stream, last in result.positions.items():
            ensure_group(client, stream, GROUP_PROJECTOR)
            client.xgroup_setid(stream, GROUP_PROJECTOR, last)
    finally:
        store.states = None
        for lease in leases:
            lease.release()
    result.seconds = time.perf_counter() - started
    return result


def _pages(client: Any, stream: str, start: str, batch: int) -> Iterator[tuple[list, list]]:
    """(entries, decoded events) pages from start to the end of a stream."""
    cursor = start
    while True:
        entries = parse_entries(client.xrange(stream, min=cursor, max="+", count=batch))
        if not entries:
            return
        yield entries, [decode_fields(fields) for _, fields in entries]
        cursor = "(" + entries[-1][0]


def _replay_stream(client: Any, store: Store, stream: str, start: str, batch: int, known: Any, rules: Rules,
                   leases: list[Lease], result: ReplayResult, total: int,
                   progress: Callable[[int, int], None] | None) -> str:
    """Apply one stream from start to its end; returns the position the live consumer continues after."""
    last = before(start)
    pages = read_ahead(_pages(client, stream, start, batch))
    try:
        for entries, decoded in pages:
            fresh = [(entry[0], event) for entry, event in zip(entries, decoded)
                     if not isinstance(event, codec.ContractError)]
            result.invalid += len(entries) - len(fresh)
            plan = store.apply_entries(fresh, known, rules)
            result.events += plan.events
            result.entries += len(entries)
            last = entries[-1][0]
            for index, lease in enumerate(leases):
                if not lease.renew():
                    raise LeaseHeld(index, lease.holder() or "nobody")
            if progress is not None:
                progress(result.entries, total)
    finally:
        pages.close()
    return last
