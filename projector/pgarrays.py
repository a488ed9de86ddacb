"""PostgreSQL binary arrays packed with struct: psycopg dumps Python lists element by element, ~15x slower."""

from __future__ import annotations

import struct
import weakref
from typing import Any, Iterable, Sequence

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

_LEN = struct.Struct(">i")
_registered: "weakref.WeakSet[Any]" = weakref.WeakSet()


class PackedArray(bytes):
    """A one-dimensional array already in PostgreSQL's binary format (sent with %b)."""

    TYPE = ""


def _array_class(name: str) -> type:
    return type(f"{name.capitalize()}Array", (PackedArray,), {"TYPE": name})


Int8Array, Int4Array, Int2Array, BoolArray, TextArray, JsonbArray = (
    _array_class(n) for n in ("int8", "int4", "int2", "bool", "text", "jsonb"))
_FIXED = {"int8": ("q", 8), "int4": ("i", 4), "int2": ("h", 2), "bool": ("?", 1)}
_CLASSES = {c.TYPE: c for c in (Int8Array, Int4Array, Int2Array, BoolArray, TextArray, JsonbArray)}


class JsonbValue(bytes):
    """JSON text for a jsonb column in a binary COPY."""


def _oid(name: str) -> int:
    return postgres.types.get(name).oid


def pack(name: str, values: Sequence[Any]) -> PackedArray:
    """Values of one type (int8, int4, int2, bool, text, jsonb as JSON bytes) -> a packed array; no NULLs."""
    cls = _CLASSES[name]
    oid = _oid(name)
    n = len(values)
    if not n:
        return cls(struct.pack(">iiI", 0, 0, oid))
    head = struct.pack(">iiIii", 1, 0, oid, n, 1)
    fixed = _FIXED.get(name)
    if fixed is not None:
        code, size = fixed
        args = [size, 0] * n
        args[1::2] = values
        return cls(head + struct.pack(">" + ("i" + code) * n, *args))
    return cls(head + b"".join(_elements(name, values)))


def _elements(name: str, values: Iterable[Any]) -> Iterable[bytes]:
    if name == "jsonb":
        for data in values:
            yield _LEN.pack(len(data) + 1) + b"\x01" + data
        return
    for text in values:
        data = text.encode()
        yield _LEN.pack(len(data)) + data


def _dumper(name: str, array: bool) -> type:
    info = postgres.types.get(name)

    def dump(self: Any, obj: Any) -> bytes:
        return obj if array else b"\x01" + obj

    return type(f"Packed{name.capitalize()}{'Array' if array else ''}Dumper", (Dumper,), {
        "format": Format.BINARY, "oid": info.array_oid if array else info.oid, "dump": dump})


_DUMPERS = [(cls, _dumper(name, True)) for name, cls in _CLASSES.items()]
_JSONB_DUMPER = _dumper("jsonb", False)


def register(connection: Any) -> None:
    """Teach a psycopg connection these types (once per connection)."""
    if connection in _registered:
        return
    for cls, dumper in _DUMPERS:
        connection.adapters.register_dumper(cls, dumper)
    _registered.add(connection)


def jsonb_copy_context(cursor: Any) -> None:
    """Make a cursor's binary COPY take JsonbValue bytes for jsonb columns (pre-encoded JSON)."""
    cursor.adapters.register_dumper(JsonbValue, _JSONB_DUMPER)
