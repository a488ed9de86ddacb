"""Event ids: 20 characters of Crockford base32, sortable by time, unique without coordination."""

from __future__ import annotations

import os
import random
import re
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 20
_RANDOM_BITS = 52
_SHAPE = re.compile(f"[{ALPHABET}]{{{ID_LENGTH}}}\\Z")
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
# A per-process generator seeded from the OS (os.urandom per id is a system call); reseeded in every
# forked child so two workers never share a sequence.
_random = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(16)))


def new_id(ts_ms: int | None = None) -> str:
    """A new id: 48 bits of epoch milliseconds then 52 random bits."""
    if ts_ms is None:
        ts_ms = time.time_ns() // 1_000_000
    value = ((ts_ms & ((1 << 48) - 1)) << _RANDOM_BITS) | _random.getrandbits(_RANDOM_BITS)
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in range(90, -10, -10)])


def id_time_ms(event_id: str) -> int:
    """The millisecond timestamp an id was made at (ValueError for anything that is not an id)."""
    if not is_id(event_id):
        raise ValueError(f"not an event id: {str(event_id)[:30]!r}")
    value = 0
    for ch in event_id:
        value = value * 32 + ALPHABET.index(ch)
    return value >> _RANDOM_BITS


def is_id(value: object) -> bool:
    """Whether value is shaped like an id from new_id."""
    return isinstance(value, str) and _SHAPE.match(value) is not None
