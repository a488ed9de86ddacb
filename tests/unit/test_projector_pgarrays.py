"""Binary arrays packed with struct must be exactly PostgreSQL's array_send format."""

from __future__ import annotations

import struct

import pytest
from psycopg import postgres

from projector import pgarrays


def unpack(data: bytes):
    """A reader of PostgreSQL's binary array format (what array_recv parses)."""
    ndim, flags, oid = struct.unpack_from(">iiI", data)
    assert flags == 0
    if ndim == 0:
        return oid, []
    assert ndim == 1
    n, lower = struct.unpack_from(">ii", data, 12)
    assert lower == 1
    pos, out = 20, []
    for _ in range(n):
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        out.append(data[pos : pos + size])
        pos += size
    assert pos == len(data)
    return oid, out


@pytest.mark.parametrize("name, values, code", [
    ("int8", [0, -1, 2**62], "q"), ("int4", [1, -(2**31)], "i"), ("int2", [7, -7], "h"), ("bool", [True, False], "?"),
])
def test_fixed_width_arrays(name, values, code):
    oid, items = unpack(pgarrays.pack(name, values))
    assert oid == postgres.types.get(name).oid
    assert [struct.unpack(">" + code, item)[0] for item in items] == values


def test_text_arrays_are_utf8():
    packed = pgarrays.pack("text", ["", "é", "x" * 300])
    assert isinstance(packed, pgarrays.TextArray)
    assert unpack(packed) == (postgres.types.get("text").oid, [b"", "é".encode(), b"x" * 300])


def test_jsonb_arrays_carry_the_format_version():
    assert unpack(pgarrays.pack("jsonb", [b'{"a":1}']))[1] == [b'\x01{"a":1}']


def test_empty_arrays_have_no_dimensions():
    assert unpack(pgarrays.pack("int8", [])) == (postgres.types.get("int8").oid, [])


def test_dumpers_pass_the_bytes_through():
    for cls, dumper in pgarrays._DUMPERS:
        assert dumper.oid == postgres.types.get(cls.TYPE).array_oid
        assert dumper(cls).dump(cls(b"abc")) == b"abc"
    assert pgarrays._JSONB_DUMPER(pgarrays.JsonbValue).dump(pgarrays.JsonbValue(b"{}")) == b"\x01{}"
