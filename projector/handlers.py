"""Pure planning: a batch of decoded events and the groups' prior state -> what one transaction writes."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import orjson

from contracts import ids
from contracts.events import ErrorObserved, ThresholdCrossed
from contracts.known import KnownEntry, KnownMap

UNRESOLVED, IGNORED, RESOLVED = "unresolved", "ignored", "resolved"
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
SAMPLE_REQUEST_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Rules:
    """The settings planning depends on."""

    threshold: int = 3
    bug_classes: frozenset = frozenset({"app_error", "csrf", "broken_link"})
    samples_per_minute: int = 10
    users_cap: int = 1000

    @classmethod
    def from_conf(cls, cfg: Mapping[str, Any]) -> "Rules":
        """Rules from the projector's settings."""
        return cls(
            threshold=cfg["THRESHOLD"],
            bug_classes=frozenset(cfg["BUG_CLASSES"]),
            samples_per_minute=cfg["SAMPLES_PER_MINUTE"],
            users_cap=cfg["DISTINCT_USERS_CAP"],
        )


@dataclass(slots=True)
class GroupState:
    """An existing group as planning needs it (read in the batch's transaction)."""

    id: int
    count: int = 0
    users: int = 0
    state: str = UNRESOLVED
    sample_minute: int = -1
    sample_count: int = 0
    crossed: bool = False
    regressed_ms: int = 0
    fixed_at_seen: int = 0
    after_fix_count: int = 0


@dataclass(slots=True)
class GroupPlan:
    """One group's changes in a batch: deltas for counts, new absolute values for projector-owned fields."""

    fingerprint: str
    first: ErrorObserved
    last: ErrorObserved
    existing: GroupState | None
    total: int
    state: str
    count: int = 0
    first_seen: int = 0
    last_seen: int = 0
    sample_minute: int = -1
    sample_count: int = 0
    crossed_ms: int = 0
    regressed_ms: int = 0
    unresolve: bool = False
    fixed_at_seen: int = 0
    after_fix_count: int = 0
    signal_id: str = ""
    signal_regression: bool = False
    user_keys: set = field(default_factory=set)
    fixed: KnownEntry | None = None
    group_id: int = 0

    @property
    def is_new(self) -> bool:
        """Whether the group does not exist yet."""
        return self.existing is None


@dataclass(slots=True)
class Plan:
    """Everything one batch writes."""

    groups: dict[str, GroupPlan] = field(default_factory=dict)
    hourly: dict[tuple[str, int], int] = field(default_factory=dict)
    class_hourly: dict[tuple[str, int], int] = field(default_factory=dict)
    samples: list[tuple[str, ErrorObserved]] = field(default_factory=list)
    events: int = 0
    weight: int = 0

    @property
    def signals(self) -> list[GroupPlan]:
        """Groups that publish a threshold.crossed after commit."""
        return [g for g in self.groups.values() if g.signal_id]


def key_hash(key: str) -> int:
    """A stable signed 64-bit hash of a user/client key (what GroupUser stores)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def user_key(event: ErrorObserved) -> str | None:
    """Who saw the error: the user when signed in, else the client hash."""
    if event.user_id:
        return "u:" + event.user_id
    if event.client:
        return "c:" + event.client
    return None


def derived_id(ts_ms: int, seed: str) -> str:
    """An event id shaped like contracts.ids.new_id, but derived from a seed (same decision, same id)."""
    noise = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=7).digest(), "big") >> 4
    value = ((ts_ms & ((1 << 48) - 1)) << 52) | noise
    chars = []
    for _ in range(ids.ID_LENGTH):
        chars.append(ids.ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def title_for(event: ErrorObserved) -> str:
    """A one-line title for the group an event starts."""
    where = f"/{event.route.lstrip('/')}" if event.route else event.path
    if event.exc_type:
        text = f"{event.exc_type}: {event.exc_message or ''}".rstrip(": ")
        if event.culprit:
            text += f" in {event.culprit}"
    elif event.cls == "csrf":
        text = f"CSRF failure ({event.csrf_kind or 'other'}) on {event.method} {where}"
    else:
        text = f"{event.status} on {event.method} {where}"
    return text[:256]


def covered(known: KnownMap, fingerprint: str, error_type: str, path: str) -> KnownEntry | None:
    """The known entry of any status that already covers this error (open ones first)."""
    entry = known.match(fingerprint, error_type, path)
    if entry is not None:
        return entry
    entry = known.exact.get(fingerprint)
    if entry is not None:
        return entry
    return _pattern(known, error_type, path, statuses=("fixed", "wontfix"))


def fixed_entry(known: KnownMap, fingerprint: str, error_type: str, path: str) -> KnownEntry | None:
    """The fixed known entry (with its fix time) for this error, if its known issue is marked fixed."""
    entry = known.exact.get(fingerprint)
    if entry is None:
        entry = _pattern(known, error_type, path, statuses=("fixed",))
    if entry is not None and entry.status == "fixed" and entry.fixed_at > 0:
        return entry
    return None


def _pattern(known: KnownMap, error_type: str, path: str, statuses: tuple[str, ...]) -> KnownEntry | None:
    for entry in known.patterns:
        if entry.status in statuses and entry.error_type in ("*", error_type) and fnmatchcase(path, entry.glob):
            return entry
    return None


def _new_group(fp: str, event: ErrorObserved, existing: GroupState | None, known: KnownMap) -> GroupPlan:
    g = GroupPlan(fp, event, event, existing, total=0, state=UNRESOLVED, first_seen=event.ts, last_seen=event.ts)
    if existing is not None:
        g.total = existing.count
        g.state = existing.state
        g.sample_minute = existing.sample_minute
        g.sample_count = existing.sample_count
        g.fixed_at_seen = existing.fixed_at_seen
        g.after_fix_count = existing.after_fix_count
    g.fixed = fixed_entry(known, fp, event.error_type, event.path)
    if g.fixed is not None and g.fixed.fixed_at != g.fixed_at_seen:
        g.fixed_at_seen, g.after_fix_count = g.fixed.fixed_at, 0
    return g


def _signal(g: GroupPlan, event: ErrorObserved, regression: bool) -> None:
    kind = "regression" if regression else "threshold"
    g.signal_id = derived_id(event.ts, f"{g.fingerprint}:{kind}:{event.id}")
    g.signal_regression = g.signal_regression or regression


def _decide(g: GroupPlan, event: ErrorObserved, before: int, known: KnownMap, rules: Rules) -> None:
    """Threshold crossings and regressions caused by one event (rare paths, kept out of the hot loop)."""
    files_bugs = event.cls in rules.bug_classes
    if g.state == RESOLVED:
        g.state, g.unresolve, g.regressed_ms = UNRESOLVED, True, event.ts
        entry = known.match(g.fingerprint, event.error_type, event.path)
        if files_bugs and entry is None:
            _signal(g, event, regression=True)
    if before < rules.threshold <= g.total:
        prior = g.existing.crossed if g.existing is not None else False
        if not prior and not g.crossed_ms:
            g.crossed_ms = event.ts
            if files_bugs and g.state != IGNORED and covered(known, g.fingerprint, event.error_type, event.path) is None:
                _signal(g, event, regression=False)
    fixed = g.fixed
    if fixed is not None and event.ts > fixed.fixed_at:
        after_before = g.after_fix_count
        g.after_fix_count += event.weight
        prior_ms = g.regressed_ms or (g.existing.regressed_ms if g.existing is not None else 0)
        if after_before < rules.threshold <= g.after_fix_count and prior_ms <= fixed.fixed_at and g.state != IGNORED:
            g.regressed_ms = event.ts
            if files_bugs:
                _signal(g, event, regression=True)


def plan(
    entries: Iterable[tuple[str, ErrorObserved]],
    existing: Mapping[str, GroupState],
    known: KnownMap,
    rules: Rules,
) -> Plan:
    """Sum counts per group and hour, pick samples, decide crossings and regressions (stream order matters)."""
    out = Plan()
    groups, hourly, class_hourly, samples = out.groups, out.hourly, out.class_hourly, out.samples
    threshold, limit, cap = rules.threshold, rules.samples_per_minute, rules.users_cap
    events = weight = 0
    for stream_id, event in entries:
        fp = event.fingerprint
        g = groups.get(fp)
        if g is None:
            g = groups[fp] = _new_group(fp, event, existing.get(fp), known)
        w = event.weight
        ts = event.ts
        events += 1
        weight += w
        before = g.total
        g.total = before + w
        g.count += w
        g.last = event
        if ts > g.last_seen:
            g.last_seen = ts
        elif ts < g.first_seen:
            g.first_seen = ts
        hour = ts - ts % HOUR_MS
        key = (fp, hour)
        hourly[key] = hourly.get(key, 0) + w
        key = (event.cls, hour)
        class_hourly[key] = class_hourly.get(key, 0) + w
        minute = ts // MINUTE_MS
        if minute > g.sample_minute:
            g.sample_minute, g.sample_count = minute, 0
        if minute == g.sample_minute and g.sample_count < limit:
            g.sample_count += 1
            samples.append((stream_id, event))
        if event.user_id or event.client:
            g.user_keys.add(user_key(event))
        if g.state == RESOLVED or before < threshold <= g.total or g.fixed is not None:
            _decide(g, event, before, known, rules)
    for g in groups.values():
        if g.existing is not None and g.existing.users >= cap:
            g.user_keys = set()
        elif g.user_keys:
            g.user_keys = {key_hash(k) for k in g.user_keys}
    out.events, out.weight = events, weight
    return out


def sample_request(request: Mapping[str, Any] | None) -> str | None:
    """A scrubbed request map as short JSON for an issue body (cut at SAMPLE_REQUEST_CHARS)."""
    if not request:
        return None
    return orjson.dumps(request, option=orjson.OPT_SORT_KEYS).decode()[:SAMPLE_REQUEST_CHARS]


def signal_event(group: Mapping[str, Any], threshold: int, sample: Mapping[str, Any] | None = None) -> ThresholdCrossed:
    """The threshold.crossed a group's committed row announces (same row, same id: safe to send twice)."""
    sample = sample or {}
    return ThresholdCrossed(
        id=group["signal_id"],
        ts=ids.id_time_ms(group["signal_id"]),
        fingerprint=group["fingerprint"],
        basis=group["basis"][:2048],
        title=group["title"][:256],
        cls=group["cls"],
        error_type=group["error_type"],
        status=group["status"],
        method=group["method"][:16],
        path=group["path"][:2048],
        count=max(1, group["count"]),
        threshold=threshold,
        first_seen=group["first_seen"],
        last_seen=group["last_seen"],
        route=group["route"] or None,
        users=group["users"],
        culprit=group["culprit"] or None,
        exc_type=group["exc_type"] or None,
        exc_message=(group["exc_message"] or "")[:2048] or None,
        frames=list(group["frames"] or [])[:50],
        sample_request=sample_request(sample.get("request_data")),
        sample_event_id=sample.get("event_id") or None,
        csrf_kind=group["csrf_kind"] or None,
        release=group["release"] or None,
        environment=group["environment"] or None,
        regression=bool(group["signal_regression"]),
    )


def order_key(stream_id: str) -> tuple[int, int]:
    """A stream id as an (ms, seq) pair: the only correct way to compare ids."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def newer_than(entries: Sequence[tuple[str, Any]], last: tuple[int, int]) -> list[tuple[str, Any]]:
    """The entries strictly after a checkpoint (those at or below it were applied already)."""
    return [e for e in entries if order_key(e[0]) > last]
