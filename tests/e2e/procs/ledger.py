"""Accounting between what the traffic saw and what errortrail counted, taken when the system stands still."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from contracts import codec
from projector.handlers import order_key
from tests.e2e.procs import observe
from tests.e2e.procs.proc import wait_for
from tests.e2e.procs.services import AOF_DIR
from tests.e2e.procs.stack import Stack
from tests.e2e.procs.traffic import Result, Traffic

SETTLE_TIMEOUT_S = 120


@dataclass(frozen=True)
class Mark:
    """Where the traffic and the projections stood when the system was last still."""

    responses: int
    event_ids: frozenset[str]
    total: int


@dataclass
class Outcome:
    """Error responses since a mark and what errortrail made of them."""

    errors: list[Result]
    counted: int  # growth of the sum of ErrorGroup.count
    sampled: set[str]  # event ids of the ErrorLog samples stored since the mark
    invented: set[str]  # samples no response of this period carried
    streams: observe.RedisView
    db: observe.DbView
    problems: list[Result] = field(default_factory=list)

    @property
    def references(self) -> set[str]:
        return {r.reference for r in self.errors}

    @property
    def uncounted(self) -> int:
        """Error responses not (yet) counted."""
        return len(self.errors) - self.counted

    def summary(self) -> str:
        return (f"{len(self.errors)} error responses, {self.counted} counted, {len(self.sampled)} sampled, "
                f"{len(self.invented)} samples without a response, dead letters {self.streams.dead}, "
                f"drops {self.streams.drops}, capture {self.streams.capture}")


def all_counted(outcome: Outcome) -> bool:
    """The default explanation: every error response is counted."""
    return outcome.uncounted == 0


def _look(stack: Stack, results: list[Result], mark: Mark) -> Outcome | None:
    """The outcome if the pipeline is idle (spool empty, nothing pending or unread), else None."""
    if stack.spool_files():
        return None
    streams = stack.streams()
    if streams.errors_pending or streams.errors_lag != 0 or streams.signals_pending:
        return None
    db = stack.db()
    errors = [r for r in results[mark.responses:] if r.status and r.status >= 400 and r.reference]
    sampled = set(db.event_ids) - mark.event_ids
    return Outcome(errors=errors, counted=db.total - mark.total, sampled=sampled,
                   invented=sampled - {r.reference for r in errors}, streams=streams, db=db,
                   problems=[r for r in results[mark.responses:] if r.problem])


def still(stack: Stack, traffic: Traffic, mark: Mark | None, explained: Callable[[Outcome], bool] = all_counted,
          timeout_s: float = SETTLE_TIMEOUT_S) -> Outcome:
    """Pause the traffic and wait until the pipeline is idle and the outcome is explained, twice in a row."""
    traffic.pause()
    results = traffic.snapshot()
    mark = mark or Mark(0, frozenset(), 0)
    seen: list[tuple] = []
    last: list[Outcome | None] = [None]

    def settled() -> Outcome | None:
        outcome = _look(stack, results, mark)
        last[0] = outcome
        if outcome is None or not explained(outcome):
            seen.clear()
            return None
        seen.append((outcome.counted, len(outcome.sampled), outcome.streams.dropped))
        return outcome if len(seen) >= 2 and seen[-1] == seen[-2] else None

    def detail() -> str:
        outcome = last[0]
        state = outcome.summary() if outcome else f"not idle: spool {stack.spool_files()[:5]}, {stack.streams()}"
        return f"{state}\n{stack.logs_tail()}"

    return wait_for(settled, timeout_s, "the pipeline to settle with every error response accounted for",
                    poll_s=0.25, detail=detail)


def mark_of(traffic: Traffic, outcome: Outcome) -> Mark:
    """A new mark at the point the outcome was taken (the traffic is paused)."""
    return Mark(len(traffic.snapshot()), frozenset(outcome.db.event_ids), outcome.db.total)


def _events_in(record: Path, stream: str) -> list[tuple[str, str]]:
    return [(entry_id, codec.decode(data).id) for entry_id, data in observe.recorded_xadds(record, stream)]


def unapplied_when_redis_died(stack: Stack, record: Path | None) -> set[str]:
    """Event ids the dead Redis held in its error stream beyond the projector's committed checkpoint.

    Call while Redis is still down: the projector cannot read, so cannot commit, more of the old stream.
    """
    if record is None:
        return set()
    stream = stack.names.errors(0)
    last = observe.checkpoint(stack.pg.dsn(), stream)
    return {event_id for entry_id, event_id in _events_in(record, stream) if order_key(entry_id) > last}


def sent_again(stack: Stack, event_ids: set[str]) -> set[str]:
    """Those of `event_ids` the running Redis received too: their XADD ran on the old one, but its answer was
    lost in the shutdown, so capture spooled them and flushed them to the new one."""
    if not event_ids:
        return set()
    return event_ids & {event_id for _, event_id in _events_in(stack.redis.workdir / AOF_DIR, stack.names.errors(0))}


def filings_done(stack: Stack) -> tuple[observe.DbView, dict] | None:
    """Every group over the threshold has a filed known issue and a stand-in issue; no filing is left open."""
    db = stack.db()
    state = stack.standin_state()
    for group in db.over_threshold():
        issue = db.issue_for(group["fingerprint"])
        if issue is None or issue["filing_state"] != "filed":
            return None
        if not observe.issues_with_marker(state, group["fingerprint"]):
            return None
    if any(i["filing_state"] != "filed" for i in db.issues):
        return None
    return db, state
