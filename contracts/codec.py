"""The msgpack codec: encode events, decode with validation, upcast old versions."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
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
_MAX_TS = 2**48
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


_FIELDS: dict[type, tuple] = {}


def _fields(cls: type) -> tuple:
    cached = _FIELDS.get(cls)
    if cached is None:
        cached = _FIELDS[cls] = tuple(fields(cls))
    return cached


def to_map(event: Event) -> dict[str, Any]:
    """The wire map of an event (version and type first)."""
    out: dict[str, Any] = {"v": event.VERSION, "type": event.TYPE}
    for f in _fields(type(event)):
        out[f.name] = getattr(event, f.name)
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
    return cls(**{f.name: wire[f.name] for f in _fields(cls) if f.name in wire})


def _validate(cls: type, wire: dict) -> None:
    known = {"v", "type"}
    for f in _fields(cls):
        known.add(f.name)
        if f.name not in wire:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ContractError(f"{cls.TYPE}: missing field {f.name!r}")
            continue
        _check(cls.TYPE, f.name, f.metadata["kind"], f.metadata["limit"], wire[f.name])
    extra = set(wire) - known
    if extra:
        raise ContractError(f"{cls.TYPE}: unknown fields {sorted(_show(key, 40) for key in extra)[:5]}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(event_type: str, name: str, kind: str, limit: int, value: Any) -> None:
    where = f"{event_type}.{name}"
    if kind in ("str", "str?"):
        if value is None and kind == "str?":
            return
        if not isinstance(value, str):
            raise ContractError(f"{where}: expected a string")
        if len(value) > limit:
            raise ContractError(f"{where}: longer than {limit} characters")
    elif kind == "id":
        if not ids.is_id(value):
            raise ContractError(f"{where}: not an event id")
    elif kind == "ts":
        if not _is_int(value) or not 0 <= value < _MAX_TS:
            raise ContractError(f"{where}: not an epoch-milliseconds integer")
    elif kind == "status":
        if not _is_int(value) or not 100 <= value <= 599:
            raise ContractError(f"{where}: not an HTTP status")
    elif kind in ("count", "count0"):
        low = 1 if kind == "count" else 0
        if not _is_int(value) or not low <= value <= limit:
            raise ContractError(f"{where}: not an integer in {low}..{limit}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ContractError(f"{where}: expected a boolean")
    elif kind == "class":
        if value not in CLASSES:
            raise ContractError(f"{where}: unknown class {_show(value, 30)}")
    elif kind == "fingerprint":
        if not isinstance(value, str) or not _FINGERPRINT.match(value):
            raise ContractError(f"{where}: not a 64-character hex fingerprint")
    elif kind == "tree":
        if not isinstance(value, dict):
            raise ContractError(f"{where}: expected a map")
        _check_tree(where, value)
    elif kind == "frames":
        _check_frames(where, value, limit)
    else:  # pragma: no cover - a programming error in events.py
        raise AssertionError(f"unknown field kind {kind}")


def _check_tree(where: str, root: Any) -> None:
    """JSON-like values only, with bounded depth, size and string length."""
    nodes = 0
    stack = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_TREE_NODES:
            raise ContractError(f"{where}: more than {MAX_TREE_NODES} values")
        if depth > MAX_TREE_DEPTH:
            raise ContractError(f"{where}: nested deeper than {MAX_TREE_DEPTH}")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or len(key) > 256:
                    raise ContractError(f"{where}: map keys must be strings of at most 256 characters")
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if len(value) > MAX_TREE_STRING:
                raise ContractError(f"{where}: a string is longer than {MAX_TREE_STRING}")
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise ContractError(f"{where}: unsupported value of type {type(value).__name__}")
        elif _is_int(value) and not -(2**63) <= value < 2**64:
            raise ContractError(f"{where}: integer out of range")


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
