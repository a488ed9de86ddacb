"""Hypothesis strategies for hostile and odd stream entries, shared by the codec and consumer fuzz tests."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import msgpack
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from contracts import codec, ids
from contracts.events import CLASSES, EVENT_TYPES, MAX_TREE_STRING, ErrorObserved, ThresholdCrossed
from contracts.names import EVENT_FIELD

# Seeded and bounded: the same examples on every run, so a failure reproduces and the suite stays fast. No
# shrinking: a failing loop example took minutes to shrink; the failing example is printed as drawn.
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=60,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
MAX_TS = codec._MAX_TS - 1
NOW_MS = 1_800_000_000_000
ODD_TS = (0, 1, 999, 86_400_000, NOW_MS, NOW_MS + 3_599_999, 2**41, MAX_TS - 3_600_000, MAX_TS)
ODD_TEXT = ("", "\x00", "a\x00b", "<script>alert(1)</script>", "../../etc/passwd", "é" * 40, "\U0001f4a9" * 10,
            "%00%ff", "\u202e\u200b", "' OR 1=1 --", "{{7*7}}", "\r\n\r\nX-Injected: 1")
POOL = 6  # fingerprints per run: few enough that groups collect many events


def fingerprint(n: int) -> str:
    """One of a small pool of valid fingerprints."""
    return hashlib.sha256(f"fuzz-{n}".encode()).hexdigest()


def event_id(draw_int: int) -> str:
    """A well-shaped event id from a 100-bit integer (any 20 characters of the alphabet are an id)."""
    return "".join(ids.ALPHABET[(draw_int >> shift) & 31] for shift in range(95, -5, -5))


def text(limit: int) -> st.SearchStrategy[str]:
    """Strings up to a limit: odd fixed ones, random unicode (NUL included), and exactly the limit."""
    return st.one_of(
        st.sampled_from([t[:limit] for t in ODD_TEXT]),
        st.text(max_size=min(limit, 40)),
        st.just("x" * limit),
        st.builds(lambda c: (c * limit)[:limit], st.sampled_from(["\x00", "é", "\U0001f4a9", "<"])),
    )


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
                  st.text(max_size=20), st.sampled_from(ODD_TEXT), st.just("z" * MAX_TREE_STRING))
trees = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
).map(lambda value: value if isinstance(value, dict) else {"value": value})
frames = st.lists(st.fixed_dictionaries(
    {"module": text(256), "function": text(256)},
    optional={"filename": text(512), "lineno": st.none() | st.integers(-(2**63), 2**63 - 1), "context": text(512),
              "vars": st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=3)},
), max_size=4)
_ids = st.integers(0, 2**100 - 1).map(event_id)
_ts = st.one_of(st.sampled_from(ODD_TS), st.integers(0, MAX_TS))


@st.composite
def observed(draw: Any, fingerprints: int = POOL) -> ErrorObserved:
    """A valid error.observed with semantically odd values (every limit, NUL, far past and future, huge weight)."""
    maybe = lambda limit: st.none() | text(limit)  # noqa: E731
    return ErrorObserved(
        id=draw(_ids), ts=draw(_ts), status=draw(st.sampled_from([100, 400, 403, 404, 418, 499, 500, 503, 599])),
        error_type=draw(text(32)), cls=draw(st.sampled_from(CLASSES)), method=draw(text(16)),
        path=draw(text(2048)), url=draw(text(4096)), fingerprint=fingerprint(draw(st.integers(0, fingerprints - 1))),
        basis=draw(text(2048)), route=draw(maybe(512)), host=draw(maybe(255)), user_id=draw(maybe(64)),
        user_name=draw(maybe(150)), client=draw(maybe(32)), request=draw(trees), csrf_kind=draw(maybe(32)),
        exc_type=draw(maybe(256)), exc_message=draw(maybe(2048)), culprit=draw(maybe(512)), frames=draw(frames),
        release=draw(maybe(128)), environment=draw(maybe(64)), known_bug=draw(maybe(16)),
        weight=draw(st.sampled_from([1, 1, 1, 2, 7, 999_999_999, 1_000_000_000])),
    )


@st.composite
def crossed(draw: Any, fingerprints: int = POOL) -> ThresholdCrossed:
    """A valid threshold.crossed with odd values."""
    maybe = lambda limit: st.none() | text(limit)  # noqa: E731
    first, last = sorted((draw(_ts), draw(_ts)))
    return ThresholdCrossed(
        id=draw(_ids), ts=draw(_ts), fingerprint=fingerprint(draw(st.integers(0, fingerprints - 1))),
        basis=draw(text(2048)), title=draw(text(256)), cls=draw(st.sampled_from(CLASSES)),
        error_type=draw(text(32)), status=draw(st.integers(100, 599)), method=draw(text(16)), path=draw(text(2048)),
        count=draw(st.sampled_from([1, 3, 10**15])), threshold=draw(st.sampled_from([1, 3, 10**9])),
        first_seen=first, last_seen=last, route=draw(maybe(512)), users=draw(st.sampled_from([0, 1, 10**15])),
        culprit=draw(maybe(512)), exc_type=draw(maybe(256)), exc_message=draw(maybe(2048)), frames=draw(frames),
        sample_request=draw(maybe(1024)), sample_event_id=draw(maybe(32)), csrf_kind=draw(maybe(32)),
        release=draw(maybe(128)), environment=draw(maybe(64)), regression=draw(st.booleans()),
    )


def _fits(event: Any) -> bool:
    try:
        codec.encode(event)
    except codec.ContractError:
        return False  # over MAX_EVENT_BYTES: every field at its limit at once
    return True


# -- garbage: what a buggy or hostile writer could put on a stream ------------------------------------------

GARBAGE_KINDS = ("bytes", "mutated", "map", "wrong_type", "no_field", "wrong_field", "empty_value", "extra_fields",
                 "not_a_map", "bad_utf8")


def _mutate(data: bytes, draw: Any) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        action = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        if action == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "truncate":
            del out[at:]
        elif action == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del out[at : at + draw(st.integers(1, 6))]
    return bytes(out)


@st.composite
def garbage(draw: Any, valid: bytes) -> dict:
    """Stream fields that must never decode to the consumer's event type (valid: a real encoding to mutate)."""
    kind = draw(st.sampled_from(GARBAGE_KINDS))
    if kind == "bytes":
        value = draw(st.binary(max_size=200))
    elif kind == "mutated":
        value = _mutate(valid, draw)
    elif kind == "map":
        wire = msgpack.unpackb(valid)
        small = st.integers(-(2**63), 2**64 - 1)  # what msgpack can carry
        wire[draw(st.sampled_from(sorted(wire)))] = draw(st.one_of(st.none(), small, st.text(max_size=5),
                                                                   st.lists(small, max_size=2)))
        value = msgpack.packb(wire, use_bin_type=True)
    elif kind == "extra_fields":
        wire = {**msgpack.unpackb(valid), "surprise": 1}
        value = msgpack.packb(wire, use_bin_type=True)
    elif kind == "not_a_map":
        small = st.integers(-(2**63), 2**64 - 1)
        value = msgpack.packb(draw(st.one_of(small, st.text(max_size=8), st.lists(small, max_size=3))))
    elif kind == "bad_utf8":
        value = valid.replace(b"\xa1v", b"\xa1\xff", 1)  # the key "v" as invalid UTF-8
    elif kind == "wrong_type":
        return {"kind": kind}  # the caller supplies a valid event of another type
    elif kind == "no_field":
        return {"kind": kind, "fields": {"x": b"1"}}
    elif kind == "wrong_field":
        return {"kind": kind, "fields": {draw(st.sampled_from(["E", "event", "e ", "data"])): valid}}
    else:
        value = b""
    return {"kind": kind, "fields": {EVENT_FIELD: value}}


def decodes_as(fields: dict, cls: type) -> Any:
    """The event a consumer would accept from these fields, or None."""
    raw = fields.get(EVENT_FIELD)
    try:
        event = codec.decode(raw) if raw is not None else None
    except codec.ContractError:
        return None
    return event if isinstance(event, cls) else None


def every_event_type() -> st.SearchStrategy:
    """A valid event of any type, built from the field specs alone (so a new field is fuzzed automatically)."""
    return st.sampled_from(sorted(EVENT_TYPES)).flatmap(lambda name: _generic(EVENT_TYPES[name])).filter(_fits)


def _generic(cls: type) -> st.SearchStrategy:
    kinds = {
        "id": lambda limit: _ids,
        "ts": lambda limit: _ts,
        "status": lambda limit: st.integers(100, 599),
        "count": lambda limit: st.integers(1, limit) | st.sampled_from([1, limit]),
        "count0": lambda limit: st.integers(0, limit) | st.sampled_from([0, limit]),
        "bool": lambda limit: st.booleans(),
        "class": lambda limit: st.sampled_from(CLASSES),
        "fingerprint": lambda limit: st.integers(0, 2**256 - 1).map(lambda n: f"{n:064x}"),
        "str": text,
        "str?": lambda limit: st.none() | text(limit),
        "tree": lambda limit: trees,
        "frames": lambda limit: frames,
    }
    return st.builds(cls, **{f.name: kinds[f.metadata["kind"]](f.metadata["limit"]) for f in dataclasses.fields(cls)})
