"""The msgpack codec: round trips, validation on decode, and that garbage only ever raises ContractError."""

from __future__ import annotations

import dataclasses
import enum
from collections import OrderedDict

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from django.utils.safestring import SafeString
from hypothesis import strategies as st

from contracts import codec
from contracts.codec import ContractError
from contracts.events import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    MAX_FRAMES,
    MAX_TREE_DEPTH,
    MAX_TREE_NODES,
    MAX_TREE_STRING,
    BugFiled,
    ErrorObserved,
    spec,
)
from tests.golden.cases import CASES

FUZZ = settings(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL = CASES["error.observed.v1"]
GOLDEN_BYTES = [codec.encode(event) for event in CASES.values()]


def pack(wire) -> bytes:
    return msgpack.packb(wire, use_bin_type=True)


def wire_of(event, **changes) -> dict:
    wire = codec.to_map(event)
    wire.update(changes)
    return wire


def nested(depth: int, leaf=None):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def rejects(wire, match: str | None = None, wire_match: str | None = "") -> None:
    """The map is refused both as a map and as msgpack bytes (wire_match: the bytes' reason, if it differs)."""
    with pytest.raises(ContractError, match=match):
        codec.from_map(wire)
    try:
        data = pack(wire)
    except (OverflowError, TypeError, ValueError):
        return  # not representable in msgpack at all: from_map was the whole check
    with pytest.raises(ContractError, match=match if wire_match == "" else wire_match):
        codec.decode(data)


# -- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_event_round_trips(name):
    event = CASES[name]
    data = codec.encode(event)
    assert codec.decode(data) == event
    assert codec.decode(bytearray(data)) == event
    assert codec.decode(memoryview(data)) == event
    assert codec.from_map(codec.to_map(event)) == event


def test_every_event_type_has_a_round_trip_case():
    assert {type(event) for event in CASES.values()} == set(EVENT_TYPES.values())


def test_wire_map_starts_with_version_and_type():
    wire = codec.to_map(FULL)
    assert list(wire)[:2] == ["v", "type"]
    assert (wire["v"], wire["type"]) == (1, "error.observed")


def test_optional_fields_may_be_absent_on_the_wire():
    wire = {k: v for k, v in codec.to_map(CASES["error.observed.v1.minimal"]).items() if k in _required(ErrorObserved)}
    wire.update(v=1, type="error.observed")
    event = codec.decode(pack(wire))
    assert event == CASES["error.observed.v1.minimal"]
    assert (event.weight, event.frames, event.request, event.route) == (1, [], {}, None)


def test_contract_error_is_a_value_error():
    assert issubclass(ContractError, ValueError)


# -- validation: one bad value per field kind ------------------------------------------------------


def _required(cls) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def _bad_values(kind: str, limit: int) -> list:
    common = [{"a": 1}, [1], b"bytes", 1.5]
    table = {
        "str": lambda: [None, 5, True, "x" * (limit + 1)],
        "str?": lambda: [5, False, "x" * (limit + 1)],
        "id": lambda: [None, 5, "", "0" * 19, "0" * 21, "0" * 19 + "U", "0" * 19 + "a"],
        "ts": lambda: [None, -1, 2**48, True, "1733300000123"],
        "status": lambda: [None, 99, 600, True, "500"],
        "count": lambda: [None, 0, -1, limit + 1, True],
        "count0": lambda: [None, -1, limit + 1, False],
        "bool": lambda: [None, 0, 1, "true"],
        "class": lambda: [None, 5, "", "app-error", "APP_ERROR"],
        "fingerprint": lambda: [None, 5, "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 63 + "\n"],
        "tree": lambda: [None, "x", 5, [{"a": 1}]],
        "frames": lambda: [None, "x", {"module": "m", "function": "f"}],
    }
    return table[kind]() + [value for value in common if kind != "tree" or not isinstance(value, dict)]


def _bad_field_cases():
    for name, event in sorted(CASES.items()):
        if name.endswith(".minimal"):
            continue
        for f in dataclasses.fields(type(event)):
            for i, value in enumerate(_bad_values(f.metadata["kind"], f.metadata["limit"])):
                yield pytest.param(event, f.name, value, id=f"{event.TYPE}.{f.name}-{i}")


@pytest.mark.parametrize("event, field_name, value", list(_bad_field_cases()))
def test_a_bad_value_in_any_field_is_refused(event, field_name, value):
    rejects(wire_of(event, **{field_name: value}), match=field_name)
    with pytest.raises(ContractError, match=field_name):
        codec.encode(dataclasses.replace(event, **{field_name: value}))


@pytest.mark.parametrize("name", sorted(n for n in CASES if not n.endswith(".minimal")))
def test_each_missing_required_field_is_refused(name):
    event = CASES[name]
    required = _required(type(event))
    assert {"id", "ts", "fingerprint"} <= required
    for field_name in required:
        wire = codec.to_map(event)
        del wire[field_name]
        rejects(wire, match=f"missing field '{field_name}'")


def test_limits_are_inclusive():
    longest = "x" * 2048
    event = dataclasses.replace(FULL, path=longest, weight=1_000_000_000, frames=FULL.frames * (MAX_FRAMES // 2))
    assert codec.decode(codec.encode(event)) == event


# -- trees (request data, frame vars) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "tree, reason",
    [
        ({"a": nested(MAX_TREE_DEPTH - 1)}, "nested deeper"),
        ({"a": [0] * MAX_TREE_NODES}, "more than"),
        ({"a": "x" * (MAX_TREE_STRING + 1)}, "longer than"),
        ({"k" * 257: 1}, "map keys"),
        ({"a": {b"k": 1}}, "map keys"),
        ({"a": b"raw bytes"}, "unsupported"),
        ({"a": msgpack.ExtType(5, b"x")}, "unsupported"),
        ({"a": msgpack.Timestamp(1, 0)}, "unsupported"),
        ({"a": 2**64}, "out of range"),
        ({"a": -(2**63) - 1}, "out of range"),
    ],
)
def test_oversize_deep_or_odd_trees_are_refused(tree, reason):
    rejects(wire_of(FULL, request=tree), match=reason)
    with pytest.raises(ContractError, match=reason):
        codec.encode(dataclasses.replace(FULL, request=tree))


@pytest.mark.parametrize("tree", [{"a": {5: 1}}, {"a": (1, 2)}, {"a": {1.5: "x"}}])
def test_trees_python_could_build_but_the_wire_cannot_carry_are_refused_on_encode(tree):
    with pytest.raises(ContractError, match="map keys|unsupported"):
        codec.encode(dataclasses.replace(FULL, request=tree))


def test_integer_map_keys_in_a_tree_are_refused_by_the_parser():
    rejects(wire_of(FULL, request={"a": {5: 1}}), match="map keys", wire_match="not msgpack")


def test_a_tree_exactly_at_the_limits_is_accepted_and_one_more_value_is_not():
    # root map (1) + 8 nested lists and their leaf at depth 10 (9) + 3 scalars + the wide list (1 + n)
    wide = [0] * (MAX_TREE_NODES - 14)
    tree = {"deep": nested(MAX_TREE_DEPTH - 2, "x" * MAX_TREE_STRING), "k" * 256: -(2**63), "big": 2**64 - 1, "f": 0.5, "wide": wide}
    event = dataclasses.replace(FULL, request=tree)
    assert codec.decode(codec.encode(event)) == event
    with pytest.raises(ContractError, match="more than"):
        codec.encode(dataclasses.replace(FULL, request={**tree, "wide": [*wide, 0]}))
    with pytest.raises(ContractError, match="nested deeper"):
        codec.encode(dataclasses.replace(FULL, request={**tree, "wide": wide[1:], "deep": nested(MAX_TREE_DEPTH - 1)}))


class Count(enum.IntEnum):
    ONE = 1
    HUGE = 2**64


class Ratio(float):
    pass


def test_subclasses_of_plain_values_are_carried_as_plain_values():
    tree = {
        "safe": SafeString("<b>x</b>"),
        "ordered": OrderedDict(a=[SafeString("y")]),
        "count": Count.ONE,
        "ratio": Ratio(0.5),
        "nested": [OrderedDict(b=Count.ONE)],
    }
    event = dataclasses.replace(FULL, request=tree)
    decoded = codec.decode(codec.encode(event))
    assert decoded == event
    assert type(decoded.request["safe"]) is str and type(decoded.request["ordered"]) is dict


@pytest.mark.parametrize(
    "value, reason",
    [(SafeString("x" * (MAX_TREE_STRING + 1)), "longer than"), (Count.HUGE, "out of range"), ({1, 2}, "unsupported")],
)
def test_subclasses_are_checked_like_plain_values(value, reason):
    with pytest.raises(ContractError, match=reason):
        codec.encode(dataclasses.replace(FULL, request={"a": [value]}))


def test_a_self_referencing_tree_is_refused_not_looped_on():
    loop: dict = {}
    loop["again"] = loop
    with pytest.raises(ContractError, match="nested deeper"):
        codec.encode(dataclasses.replace(FULL, request=loop))


@pytest.mark.parametrize(
    "frames, reason",
    [
        ([{"module": "m", "function": "f"}] * (MAX_FRAMES + 1), "more than"),
        (["m:f"], "must be a map"),
        ([{"function": "f"}], "needs module and function"),
        ([{"module": "m"}], "needs module and function"),
        ([{"module": "m", "function": "f", "locals": {}}], "unknown frame key"),
        ([{"module": "m", "function": "f", b"module": "m"}], "unknown frame key"),
        ([{"module": "m" * 257, "function": "f"}], "module"),
        ([{"module": "m", "function": 5}], "function"),
        ([{"module": "m", "function": "f", "filename": "x" * 513}], "filename"),
        ([{"module": "m", "function": "f", "context": None}], "context"),
        ([{"module": "m", "function": "f", "lineno": "12"}], "lineno"),
        ([{"module": "m", "function": "f", "lineno": True}], "lineno"),
        ([{"module": "m", "function": "f", "vars": ["x"]}], "vars must be a map"),
        ([{"module": "m", "function": "f", "vars": {"x": nested(MAX_TREE_DEPTH)}}], "nested deeper"),
    ],
)
def test_bad_frames_are_refused(frames, reason):
    rejects(wire_of(FULL, frames=frames), match=reason)


def test_an_unpackable_lineno_is_a_contract_error_on_encode():
    frames = [{"module": "m", "function": "f", "lineno": 2**70}]
    with pytest.raises(ContractError, match="cannot be packed"):
        codec.encode(dataclasses.replace(FULL, frames=frames))


def test_a_lone_surrogate_is_a_contract_error_on_encode():
    with pytest.raises(ContractError, match="cannot be packed"):
        codec.encode(dataclasses.replace(FULL, exc_message="bad \udc80 byte"))


# -- envelope: type, version, unknown fields -------------------------------------------------------


def test_unknown_fields_are_refused():
    rejects(wire_of(FULL, extra=1), match="unknown fields")
    rejects({**codec.to_map(FULL), b"bytes-key": 1}, match="unknown fields")


@pytest.mark.parametrize("event_type", [None, "", "error.seen", "ERROR.OBSERVED", 5, b"error.observed", ["error.observed"]])
def test_unknown_or_malformed_type_is_refused(event_type):
    rejects(wire_of(FULL, type=event_type), match="unknown event type")


def test_missing_type_is_refused():
    wire = codec.to_map(FULL)
    del wire["type"]
    rejects(wire, match="unknown event type")


@pytest.mark.parametrize("version", [2, 99, 2**63])
def test_a_future_version_is_refused(version):
    rejects(wire_of(FULL, v=version), match="newer than this code understands")


def test_a_huge_future_version_is_described_safely():
    with pytest.raises(ContractError, match="newer") as caught:
        codec.from_map(wire_of(FULL, v=10**5000))
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("version", [0, -1, -(2**63), True, False, None, "1", 1.0, [1], {"v": 1}])
def test_version_zero_negative_bool_or_not_an_int_is_refused(version):
    rejects(wire_of(FULL, v=version), match="bad schema version")


def test_missing_version_is_refused():
    wire = codec.to_map(FULL)
    del wire["v"]
    rejects(wire, match="bad schema version")


@pytest.mark.parametrize("where", ["type", "v", "cls"])
def test_deeply_nested_garbage_in_a_described_field_is_a_contract_error(where):
    # Python's repr of ~1000 nested lists raises RecursionError: the error text must not repr it.
    wire = wire_of(FULL, **{where: nested(1000)})
    rejects(wire)
    with pytest.raises(ContractError) as caught:
        codec.decode(pack(wire))
    assert "<list>" in str(caught.value)


def test_error_messages_stay_short_for_huge_values():
    with pytest.raises(ContractError) as caught:
        codec.decode(pack(wire_of(FULL, type="x" * 50_000)))
    assert len(str(caught.value)) < 200


# -- bytes that are not an event ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\xff" * 8,
        b"not msgpack at all",
        b"\xde\xff\xff",
        b"\xdf\xff\xff\xff\xff",
        b"\xdd\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\xa3ab\xff",
        b"\x91" * 60_000 + b"\xc0",
        b"\x81" * 30_000 + b"\xc0",
    ],
    ids=lambda d: d[:8].hex() or "empty",
)
def test_garbage_bytes_are_refused(data):
    with pytest.raises(ContractError):
        codec.decode(data)


@pytest.mark.parametrize("value", [[1, 2], 5, "error.observed", None, True, 1.5, b"bin"])
def test_a_msgpack_value_that_is_not_a_map_is_refused(value):
    with pytest.raises(ContractError, match="expected a map"):
        codec.decode(pack(value))


def test_a_map_with_non_string_keys_is_refused():
    data = b"\x81\x01\x02"  # {1: 2}
    with pytest.raises(ContractError, match="not msgpack"):
        codec.decode(data)


def test_trailing_bytes_after_a_valid_event_are_refused():
    with pytest.raises(ContractError, match="not msgpack"):
        codec.decode(codec.encode(FULL) + b"\xc0")


@pytest.mark.parametrize("index", range(len(GOLDEN_BYTES)))
def test_every_prefix_of_a_valid_encoding_is_refused(index):
    data = GOLDEN_BYTES[index]
    for end in range(len(data)):
        with pytest.raises(ContractError):
            codec.decode(data[:end])


@pytest.mark.parametrize("value", ["\x8a\xa1v\x01", None, 5, [b"\x80"], {"v": 1}, object(), bytes])
def test_input_that_is_not_bytes_is_refused(value):
    with pytest.raises(ContractError, match="expected bytes"):
        codec.decode(value)


def test_bytes_over_the_size_limit_are_refused_before_parsing():
    with pytest.raises(ContractError, match="over the"):
        codec.decode(b"\xc0" * (MAX_EVENT_BYTES + 1))


def test_a_valid_looking_event_over_the_size_limit_is_refused_both_ways():
    big = {f"k{i}": "x" * MAX_TREE_STRING for i in range(MAX_EVENT_BYTES // MAX_TREE_STRING + 1)}
    event = dataclasses.replace(FULL, request=big)
    with pytest.raises(ContractError, match="over the"):
        codec.encode(event)
    with pytest.raises(ContractError, match="over the"):
        codec.decode(pack(codec.to_map(event)))


def test_encode_refuses_what_is_not_an_event():
    with pytest.raises(ContractError, match="not an event"):
        codec.encode({"v": 1, "type": "bug.filed"})

    @dataclasses.dataclass(frozen=True)
    class Impostor:
        TYPE = "bug.filed"
        VERSION = 1

    with pytest.raises(ContractError, match="not an event"):
        codec.encode(Impostor())


# -- fuzzing: only ContractError (or a valid event) ever comes out ------------------------------------


def _decode_or_contract_error(data) -> None:
    try:
        event = codec.decode(data)
    except ContractError:
        return
    assert type(event) in EVENT_TYPES.values()
    assert codec.decode(codec.encode(event)) == event


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data):
    _decode_or_contract_error(data)


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(GOLDEN_BYTES)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x90, 0xA0, 0xC0, 0xC1, 0xC2, 0xC3, 0xCC, 0xD9, 0xDC, 0xDE, 0xFF]))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "truncate":
            del data[at:]
        else:
            other = draw(st.sampled_from(GOLDEN_BYTES))
            data[at:] = other[draw(st.integers(0, len(other) - 1)) :]
    return bytes(data)


@FUZZ
@given(mutated())
def test_fuzz_mutated_valid_encodings(data):
    _decode_or_contract_error(data)


_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=40) | st.binary(max_size=20)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated_maps(draw):
    event = draw(st.sampled_from(list(CASES.values())))
    wire = codec.to_map(event)
    names = list(wire)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        key = draw(st.sampled_from(names))
        if action == "replace":
            wire[key] = draw(_values)
        elif action == "delete":
            wire.pop(key, None)
        else:
            wire[draw(st.text(max_size=12))] = draw(_values)
    return wire


@FUZZ
@given(mutated_maps())
def test_fuzz_maps_with_wrong_values(wire):
    try:
        codec.from_map(wire)
    except ContractError:
        pass
    _decode_or_contract_error(pack(wire))


# -- upcasters -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PetAdopted:
    """A synthetic event at version 3, whose v1 called `name` `pet_name` and whose v2 had no `legs`."""

    TYPE = "test.pet_adopted"
    VERSION = 3

    id: str = spec("id")
    ts: int = spec("ts")
    name: str = spec("str", 20)
    legs: int = spec("count", 10)


def _v1_to_v2(wire: dict) -> dict:
    wire["name"] = wire.pop("pet_name")
    return wire


def _v2_to_v3(wire: dict) -> dict:
    return {**wire, "legs": 4}


@pytest.fixture
def synthetic_versions(monkeypatch):
    """Register PetAdopted v3 with upcasters from v1 and v2; restores EVENT_TYPES and UPCASTERS after."""
    saved = dict(codec.UPCASTERS)
    monkeypatch.setitem(EVENT_TYPES, PetAdopted.TYPE, PetAdopted)
    codec.UPCASTERS[(PetAdopted.TYPE, 1)] = _v1_to_v2
    codec.UPCASTERS[(PetAdopted.TYPE, 2)] = _v2_to_v3
    yield codec.UPCASTERS
    codec.UPCASTERS.clear()
    codec.UPCASTERS.update(saved)


def _v2_wire() -> dict:
    return {"v": 2, "type": PetAdopted.TYPE, "id": CASES["bug.filed.v1"].id, "ts": 1_733_300_000_123, "name": "Rex"}


def test_an_older_version_is_upcast_to_the_current_one(synthetic_versions):
    event = codec.decode(pack(_v2_wire()))
    assert event == PetAdopted(id=CASES["bug.filed.v1"].id, ts=1_733_300_000_123, name="Rex", legs=4)
    assert msgpack.unpackb(codec.encode(event))["v"] == 3


def test_upcasters_chain_over_several_versions(synthetic_versions):
    wire = {**_v2_wire(), "v": 1, "pet_name": "Rex"}
    del wire["name"]
    original = dict(wire)
    assert codec.from_map(wire).name == "Rex"
    assert wire == original  # the caller's map is not changed


def test_a_missing_upcaster_is_a_contract_error(synthetic_versions):
    del synthetic_versions[(PetAdopted.TYPE, 2)]
    with pytest.raises(ContractError, match="no upcaster for test.pet_adopted version 2"):
        codec.decode(pack(_v2_wire()))


def test_a_failing_upcaster_is_a_contract_error(synthetic_versions):
    wire = {**_v2_wire(), "v": 1}  # v1 without pet_name: the upcaster's pop raises KeyError
    with pytest.raises(ContractError, match="upcasting test.pet_adopted v1 failed: KeyError"):
        codec.decode(pack(wire))


def test_an_upcaster_returning_something_else_is_a_contract_error(synthetic_versions):
    synthetic_versions[(PetAdopted.TYPE, 2)] = lambda wire: None
    with pytest.raises(ContractError, match="gave NoneType, not a map"):
        codec.decode(pack(_v2_wire()))


def test_an_upcast_map_is_still_validated(synthetic_versions):
    synthetic_versions[(PetAdopted.TYPE, 2)] = lambda wire: {**wire, "legs": 11}
    with pytest.raises(ContractError, match="test.pet_adopted.legs"):
        codec.decode(pack(_v2_wire()))


def test_version_zero_is_refused_even_with_an_upcaster_registered(synthetic_versions):
    synthetic_versions[(PetAdopted.TYPE, 0)] = lambda wire: wire
    with pytest.raises(ContractError, match="bad schema version"):
        codec.decode(pack({**_v2_wire(), "v": 0}))


def test_the_fixture_left_the_registries_as_they_were():
    assert PetAdopted.TYPE not in EVENT_TYPES
    assert all(key[0] != PetAdopted.TYPE for key in codec.UPCASTERS)


def test_every_older_version_of_a_real_event_has_an_upcaster():
    for cls in EVENT_TYPES.values():
        for version in range(1, cls.VERSION):
            assert (cls.TYPE, version) in codec.UPCASTERS, f"{cls.TYPE} v{version} needs an upcaster"
