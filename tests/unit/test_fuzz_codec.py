"""Codec fuzzing beyond tests/unit/test_contracts_codec.py: random valid events of every type (built from the field
specs), their mutations, random junk in every field on encode, and the timestamp range every consumer can hold."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import codec
from contracts.codec import ContractError
from contracts.events import EVENT_TYPES
from tests.fuzz.strategies import FUZZ, MAX_TS, _mutate, every_event_type

_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30)
    | st.binary(max_size=10) | st.sampled_from([msgpack.ExtType(1, b"x"), object(), {1, 2}, (1, "a")]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(every_event_type())
def test_any_valid_event_round_trips_to_the_same_bytes(event):
    data = codec.encode(event)
    again = codec.decode(data)
    assert type(again) is type(event)
    assert codec.encode(again) == data  # bytes, not ==: NaN in a tree is never equal to itself
    assert codec.encode(codec.from_map(msgpack.unpackb(data))) == data


@FUZZ
@given(every_event_type(), st.data())
def test_mutations_of_any_valid_event_only_raise_contract_errors(event, data):
    mutated = _mutate(codec.encode(event), data.draw)
    try:
        again = codec.decode(mutated)
    except ContractError:
        return
    assert type(again) in EVENT_TYPES.values()
    assert codec.decode(codec.encode(again)) is not None


@FUZZ
@given(every_event_type(), st.data())
def test_junk_in_any_field_only_raises_contract_error_on_encode(event, data):
    name = data.draw(st.sampled_from([f.name for f in dataclasses.fields(event)]))
    junk = data.draw(_junk)
    try:
        encoded = codec.encode(dataclasses.replace(event, **{name: junk}))
    except ContractError:
        return
    # Accepted: then it is a value the field allows, and it decodes back to an event of the same type.
    assert type(codec.decode(encoded)) is type(event)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_the_latest_valid_timestamp_is_one_every_consumer_can_turn_into_a_datetime(name):
    from bugbot import render
    from projector import handlers, store

    assert store.to_datetime(MAX_TS).year == 9999
    assert store.to_datetime(MAX_TS - MAX_TS % handlers.HOUR_MS).year == 9999
    assert render._when(MAX_TS).startswith("9999-12-31")
    assert datetime.fromtimestamp(0, tz=timezone.utc).year == 1970
    wire = codec.to_map(_any(EVENT_TYPES[name]))
    assert codec.from_map({**wire, "ts": MAX_TS}).ts == MAX_TS
    with pytest.raises(ContractError, match="epoch-milliseconds"):
        codec.from_map({**wire, "ts": MAX_TS + 1})  # year 10000: once accepted, and it crashed the projector


def _any(cls):
    from tests.golden.cases import CASES

    return next(event for event in CASES.values() if type(event) is cls)
