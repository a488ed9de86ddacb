"""Feed the projector's and bugbot's real loops a stream of garbage mixed with odd but valid events, then check:
only dead letters (with reasons) for the garbage, no crash, no stuck loop, and every valid entry counted exactly.

Shared by tests/component/test_fuzz_consumers.py (fakeredis) and tests/integration/test_fuzz_consumers_real.py
(real Redis; PostgreSQL on the Makefile's second pass). Each example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from django.db import transaction
from hypothesis import strategies as st

from contracts import codec
from contracts.events import BugFailed, BugFiled, ErrorObserved, ThresholdCrossed
from contracts.names import EVENT_FIELD, GROUP_BUGBOT, GROUP_PROJECTOR, Names
from tests.fuzz.strategies import _fits, crossed, decodes_as, garbage, observed

WATCHDOG_S = 120.0  # far above a normal run (well under a second): only a stuck loop reaches it
MAX_ENTRIES = 24


@contextmanager
def rolled_back() -> Iterator[None]:
    """Everything the example writes to the database is undone afterwards."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def run_guarded(run: Callable[[], int], stop: Callable[[], None]) -> int:
    """Run a loop in this thread (it needs the test's database connection); a watchdog stops a stuck one."""
    fired = threading.Event()

    def bite() -> None:
        fired.set()
        stop()

    timer = threading.Timer(WATCHDOG_S, bite)
    timer.daemon = True
    timer.start()
    try:
        code = run()
    finally:
        timer.cancel()
    assert not fired.is_set(), "the loop did not return once the stream was drained (stuck)"
    return code


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def mixed_stream(data: Any, valid: Callable[[], st.SearchStrategy], stranger: Callable[[], Any]) -> list[dict]:
    """Stream fields in order: valid events (some re-sent with the same id), garbage, events of another type."""
    entries: list[dict] = []
    sent: list[bytes] = []
    for _ in range(data.draw(st.integers(1, MAX_ENTRIES), label="entries")):
        what = data.draw(st.sampled_from(["valid", "valid", "garbage", "duplicate", "stranger"]))
        if what == "duplicate" and sent:
            entries.append({EVENT_FIELD: data.draw(st.sampled_from(sent))})
            continue
        if what in ("valid", "duplicate"):
            encoded = codec.encode(data.draw(valid().filter(_fits)))
            sent.append(encoded)
            entries.append({EVENT_FIELD: encoded})
            continue
        if what == "stranger":
            entries.append({EVENT_FIELD: codec.encode(stranger())})
            continue
        base = sent[-1] if sent else codec.encode(data.draw(valid().filter(_fits)))
        bad = data.draw(garbage(base))
        entries.append(bad["fields"] if "fields" in bad else {EVENT_FIELD: codec.encode(stranger())})
    return entries


# -- the projector --------------------------------------------------------------------------------------------


def fuzz_projector(data: Any, client: Any, names: Names, cfg: dict) -> None:
    """One example: XADD a mixed stream, run the projector until idle, check counts and dead letters."""
    from projector.loop import Projector
    from projector.models import Checkpoint, ClassHourly, ErrorGroup, ErrorHourly
    from projector.store import for_alias
    from tests.projector_support.factories import event as plain_event

    cfg = {**cfg, "PROJECTOR_BATCH_COUNT": data.draw(st.sampled_from([1, 5, 1000]), label="batch"),
           "PROJECTOR_PREFETCH": data.draw(st.booleans(), label="prefetch")}
    stranger = plain_event(0)  # a valid event, of the wrong type for this stream once turned into a signal
    wrong = ThresholdCrossed(id=stranger.id, ts=stranger.ts, fingerprint=stranger.fingerprint, basis="b", title="t",
                             cls="app_error", error_type="500", status=500, method="GET", path="/", count=3,
                             threshold=3, first_seen=1, last_seen=2)
    entries = mixed_stream(data, observed, lambda: wrong)
    stream = names.errors()
    ids = [text(client.xadd(stream, fields)) for fields in entries]
    expected_weight: Counter = Counter()
    garbage_ids = []
    for entry_id, fields in zip(ids, entries):
        event = decodes_as(fields, ErrorObserved)
        if event is None:
            garbage_ids.append(entry_id)
        else:
            expected_weight[event.fingerprint] += event.weight
    with rolled_back():
        projector = Projector(client, for_alias("default"), cfg, names, consumer="fuzz", until_idle=True)
        assert run_guarded(projector.run, projector.stop) == 0
        assert dict(ErrorGroup.objects.values_list("fingerprint", "count")) == dict(expected_weight)
        total = sum(expected_weight.values())
        assert sum(ErrorHourly.objects.values_list("count", flat=True)) == total
        assert sum(ClassHourly.objects.values_list("count", flat=True)) == total
        if expected_weight:
            assert Checkpoint.objects.get(stream=stream).applied == len(ids) - len(garbage_ids)
    dead = client.xrange(names.dead())
    assert [text(fields[b"id"]) for _, fields in dead] == garbage_ids
    assert all(fields[b"reason"] and text(fields[b"stream"]) == stream for _, fields in dead)
    assert client.xpending(stream, GROUP_PROJECTOR)["pending"] == 0
    assert projector.stats.dead == len(garbage_ids)


# -- bugbot ---------------------------------------------------------------------------------------------------


def fuzz_bugbot(data: Any, client: Any, stream: str) -> None:
    """One example: signals mixed with garbage, audit events and error.observed; run bugbot's loop until idle."""
    from django.db import InterfaceError, OperationalError

    from bugbot import loop
    from bugbot.consumer import ConsumerConfig, StreamConsumer
    from bugbot.models import BugCounter, Filing, KnownIssue
    from tests.projector_support.factories import event as plain_event

    audit = [BugFiled(id=plain_event(0).id, ts=1, fingerprint="a" * 64, bug_id="B-1", issue_url="/", backend="local"),
             BugFailed(id=plain_event(0).id, ts=1, fingerprint="a" * 64, bug_id="B-1", backend="local", reason="x",
                       attempts=1)]
    entries = mixed_stream(data, crossed, lambda: data.draw(st.sampled_from([plain_event(1), *audit])))
    for fields in entries[:1]:  # the first one twice in a row: the same signal may arrive twice
        entries.insert(0, dict(fields))
    ids = [text(client.xadd(stream, fields)) for fields in entries]
    signalled, dead_ids = set(), []
    for entry_id, fields in zip(ids, entries):
        event = decodes_as(fields, ThresholdCrossed)
        if event is not None:
            signalled.add(event.fingerprint)
        elif decodes_as(fields, BugFiled) is None and decodes_as(fields, BugFailed) is None:
            dead_ids.append(entry_id)
    dead_stream = f"{stream}:dead"
    config = ConsumerConfig(stream=stream, group=GROUP_BUGBOT, consumer="fuzz", dead_stream=dead_stream,
                            heartbeat_key=f"{stream}:heartbeat", role="bugbot",
                            count=data.draw(st.sampled_from([1, 10])), block_ms=10, claim_idle_ms=60_000, backoff_base_s=0.001, backoff_max_s=0.01)
    # bugbot's handler closes stale connections, which a test transaction cannot survive: the test runs with
    # transaction=True and each example empties bugbot's tables instead.
    for model in (KnownIssue, BugCounter):
        model.objects.all().delete()
    consumer = StreamConsumer(client, config, loop.handle, tick=loop.tick, transient=(OperationalError, InterfaceError))
    assert run_guarded(lambda: consumer.run(until_idle=True), consumer.stop) == 0
    issues = list(KnownIssue.objects.values_list("error_fingerprint", "filing_state", "last_error"))
    assert sorted(fp for fp, _, _ in issues) == sorted(signalled)
    assert all(state in (Filing.FILED, Filing.HELD) for _, state, _ in issues), issues
    dead = client.xrange(dead_stream)
    # Undecodable entries are dead-lettered while a batch is read, rejected ones once it is handled.
    assert sorted(text(fields[b"id"]) for _, fields in dead) == sorted(dead_ids)
    reasons = [text(fields[b"reason"]) for _, fields in dead]
    assert all(r.startswith(("undecodable: ", "rejected: unexpected error.observed")) for r in reasons), reasons
    assert client.xpending(stream, GROUP_BUGBOT)["pending"] == 0
    assert consumer.stats.dead == len(dead_ids)


def unique(prefix: str = "fuzz") -> str:
    """A fresh key prefix for one example."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}:"
