"""The msgpack codec: encode events, decode with validation, upcast old versions."""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields
from typing import Any, Callable

import msgpack

from contracts import ids
from contracts.events import (
    CLASSES,
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    MAX_TREE_DEPTH,
    MAX_TREE_NODES,
    MAX_TREE_STRING,
    Event,
)

_FINGERPRINT = re.compile(r"[0-9a-f]{64}\Z")
# 10000-01-01T00:00:00Z: consumers turn ts into datetimes, which end with year 9999 (ids hold 48 bits).
_MAX_TS = 253_402_300_800_000
_FRAME_KEYS = {"module": 256, "function": 256, "filename": 512, "context": 512}
_FRAME_INT_KEYS = ("lineno",)

# (type, version) -> function turning a map of that version into the next version's map.
UPCASTERS: dict[tuple[str, int], Callable[[dict], dict]] = {}


class ContractError(ValueError):
    """Bytes or a map that are not a valid event of a known type and version."""


def _show(value: Any, limit: int) -> str:
    """A short, safe description of a bad value (a repr of nested garbage could recurse too deep)."""
    if isinstance(value, (str, bytes)):
        return repr(value[: limit + 1])[:limit]
    if value is None or isinstance(value, float) or (isinstance(value, int) and value.bit_length() <= 64):
        return repr(value)[:limit]
    return f"<{type(value).__name__}>"


Check = Callable[[Any], None]


@dataclass(frozen=True)
class _Plan:
    """An event class's validation, compiled once: its wire keys and one check per field."""

    known: frozenset[str]
    names: tuple[str, ...]
    checks: tuple[tuple[str, bool, Check], ...]


_PLANS: dict[type, _Plan] = {}
_ABSENT = object()


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        checks = tuple(
            (
                f.name,
                f.default is MISSING and f.default_factory is MISSING,
                _checker(f"{cls.TYPE}.{f.name}", f.metadata["kind"], f.metadata["limit"]),
            )
            for f in fields(cls)
        )
        names = tuple(name for name, _, _ in checks)
        plan = _PLANS[cls] = _Plan(frozenset(("v", "type", *names)), names, checks)
    return plan


def to_map(event: Event) -> dict[str, Any]:
    """The wire map of an event (version and type first)."""
    out: dict[str, Any] = {"v": event.VERSION, "type": event.TYPE}
    for name in _plan(type(event)).names:
        out[name] = getattr(event, name)
    return out


def encode(event: Event) -> bytes:
    """Event -> msgpack bytes; validates first so nothing invalid reaches the stream."""
    if type(event) not in EVENT_TYPES.values():
        raise ContractError(f"not an event: {type(event).__name__}")
    wire = to_map(event)
    _validate(type(event), wire)
    try:
        data = msgpack.packb(wire, use_bin_type=True)
    except (ValueError, TypeError, OverflowError) as exc:  # lone surrogates, integers msgpack cannot hold
        raise ContractError(f"{event.TYPE}: cannot be packed: {type(exc).__name__}: {exc}"[:300]) from None
    if len(data) > MAX_EVENT_BYTES:
        raise ContractError(f"event is {len(data)} bytes, over the {MAX_EVENT_BYTES} limit")
    return data


def decode(data: Any) -> Event:
    """msgpack bytes -> a validated event of the current version; anything else raises ContractError."""
    if isinstance(data, memoryview):
        data = bytes(data)
    if not isinstance(data, (bytes, bytearray)):
        raise ContractError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_EVENT_BYTES:
        raise ContractError(f"entry is {len(data)} bytes, over the {MAX_EVENT_BYTES} limit")
    try:
        wire = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
        )
    except Exception as exc:  # msgpack raises a zoo of types on garbage: all mean the same here
        raise ContractError(f"not msgpack: {type(exc).__name__}: {exc}"[:300]) from None
    return from_map(wire)


def from_map(wire: Any) -> Event:
    """A decoded wire map -> a validated event, upcasting older versions."""
    if not isinstance(wire, dict):
        raise ContractError(f"expected a map, got {type(wire).__name__}")
    event_type = wire.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise ContractError(f"unknown event type {_show(event_type, 40)}")
    version = wire.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ContractError(f"bad schema version {_show(version, 20)}")
    if version > cls.VERSION:
        raise ContractError(f"{event_type} version {_show(version, 20)} is newer than this code understands ({cls.VERSION})")
    while version < cls.VERSION:
        upcast = UPCASTERS.get((event_type, version))
        if upcast is None:
            raise ContractError(f"no upcaster for {event_type} version {version}")
        try:
            wire = upcast(dict(wire))
        except Exception as exc:
            raise ContractError(f"upcasting {event_type} v{version} failed: {type(exc).__name__}: {exc}"[:300]) from None
        if not isinstance(wire, dict):
            raise ContractError(f"upcasting {event_type} v{version} gave {type(wire).__name__}, not a map")
        version += 1
        wire["v"] = version
    _validate(cls, wire)
    return cls(**{name: value for name, value in wire.items() if name != "v" and name != "type"})


def _validate(cls: type, wire: dict) -> None:
    plan = _plan(cls)
    for name, required, check in plan.checks:
        value = wire.get(name, _ABSENT)
        if value is _ABSENT:
            if required:
                raise ContractError(f"{cls.TYPE}: missing field {name!r}")
            continue
        check(value)
    extra = wire.keys() - plan.known
    if extra:
        raise ContractError(f"{cls.TYPE}: unknown fields {sorted(_show(key, 40) for key in extra)[:5]}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checker(where: str, kind: str, limit: int) -> Check:
    """The check of one field kind (see events.spec) as a closure: decoding runs it for every event."""
    if kind in ("str", "str?"):
        optional = kind == "str?"

        def check(value: Any) -> None:
            if value is None and optional:
                return
            if not isinstance(value, str):
                raise ContractError(f"{where}: expected a string")
            if len(value) > limit:
                raise ContractError(f"{where}: longer than {limit} characters")

    elif kind == "id":

        def check(value: Any) -> None:
            if not ids.is_id(value):
                raise ContractError(f"{where}: not an event id")

    elif kind in ("ts", "status", "count", "count0"):
        low, high, what = {
            "ts": (0, _MAX_TS - 1, "not an epoch-milliseconds integer"),
            "status": (100, 599, "not an HTTP status"),
            "count": (1, limit, f"not an integer in 1..{limit}"),
            "count0": (0, limit, f"not an integer in 0..{limit}"),
        }[kind]

        def check(value: Any) -> None:
            if not _is_int(value) or not low <= value <= high:
                raise ContractError(f"{where}: {what}")

    elif kind == "bool":

        def check(value: Any) -> None:
            if not isinstance(value, bool):
                raise ContractError(f"{where}: expected a boolean")

    elif kind == "class":

        def check(value: Any) -> None:
            if not isinstance(value, str) or value not in CLASSES:
                raise ContractError(f"{where}: unknown class {_show(value, 30)}")

    elif kind == "fingerprint":

        def check(value: Any) -> None:
            if not isinstance(value, str) or not _FINGERPRINT.match(value):
                raise ContractError(f"{where}: not a 64-character hex fingerprint")

    elif kind == "tree":

        def check(value: Any) -> None:
            if not isinstance(value, dict):
                raise ContractError(f"{where}: expected a map")
            _check_tree(where, value)

    elif kind == "frames":

        def check(value: Any) -> None:
            _check_frames(where, value, limit)

    else:  # pragma: no cover - a programming error in events.py
        raise AssertionError(f"unknown field kind {kind}")
    return check


def _check_tree(where: str, root: dict) -> None:
    """JSON-like values only, with bounded depth, size and string length (only containers are stacked)."""
    nodes = 1
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        container, depth = stack.pop()
        nodes += len(container)
        if nodes > MAX_TREE_NODES:
            raise ContractError(f"{where}: more than {MAX_TREE_NODES} values")
        if container and depth >= MAX_TREE_DEPTH:
            raise ContractError(f"{where}: nested deeper than {MAX_TREE_DEPTH}")
        if isinstance(container, dict):
            for key in container:
                if not isinstance(key, str) or len(key) > 256:
                    raise ContractError(f"{where}: map keys must be strings of at most 256 characters")
            items = container.values()
        else:
            items = container
        for item in items:
            kind = type(item)
            if kind is str:
                if len(item) > MAX_TREE_STRING:
                    raise ContractError(f"{where}: a string is longer than {MAX_TREE_STRING}")
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is int:
                if not -(2**63) <= item < 2**64:
                    raise ContractError(f"{where}: integer out of range")
            elif not (kind is float or kind is bool or item is None):
                _check_odd_value(where, item, depth + 1, stack)


def _check_odd_value(where: str, item: Any, depth: int, stack: list) -> None:
    """Subclasses of the plain types (e.g. Django's SafeString) are fine; anything else is refused."""
    if isinstance(item, (dict, list)):
        stack.append((item, depth))
    elif isinstance(item, str):
        if len(item) > MAX_TREE_STRING:
            raise ContractError(f"{where}: a string is longer than {MAX_TREE_STRING}")
    elif isinstance(item, bool | float):
        return
    elif isinstance(item, int):
        if not -(2**63) <= item < 2**64:
            raise ContractError(f"{where}: integer out of range")
    else:
        raise ContractError(f"{where}: unsupported value of type {type(item).__name__}")


def _check_frames(where: str, frames: Any, limit: int) -> None:
    if not isinstance(frames, list):
        raise ContractError(f"{where}: expected a list")
    if len(frames) > limit:
        raise ContractError(f"{where}: more than {limit} frames")
    for frame in frames:
        if not isinstance(frame, dict):
            raise ContractError(f"{where}: each frame must be a map")
        for key, value in frame.items():
            if key in _FRAME_KEYS:
                if not isinstance(value, str) or len(value) > _FRAME_KEYS[key]:
                    raise ContractError(f"{where}: frame {key} must be a string of at most {_FRAME_KEYS[key]}")
            elif key in _FRAME_INT_KEYS:
                if value is not None and not _is_int(value):
                    raise ContractError(f"{where}: frame {key} must be an integer")
            elif key == "vars":
                if not isinstance(value, dict):
                    raise ContractError(f"{where}: frame vars must be a map")
                _check_tree(where, value)
            else:
                raise ContractError(f"{where}: unknown frame key {_show(key, 30)}")
        if not isinstance(frame.get("module"), str) or not isinstance(frame.get("function"), str):
            raise ContractError(f"{where}: a frame needs module and function")
