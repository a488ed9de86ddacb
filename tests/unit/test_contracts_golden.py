"""Golden msgpack files pin the wire format: decode each to its case, encode each case to the same bytes."""

from __future__ import annotations

import hashlib

import msgpack
import pytest

from contracts import codec
from contracts.events import EVENT_TYPES
from tests.golden import cases

if cases.writing_enabled():
    cases.write_missing()

# sha256 of every golden file: a regenerated or edited file fails here even if its case changed with it.
PINNED = {
    "bug.failed.v1.minimal.msgpack": "79f68cd0c864fcb24226cad9ff1027f85187f7e264f8068036ac256d57e2db69",
    "bug.failed.v1.msgpack": "a572547f27263108ba0c83cc595f6fac9896e70b7906d22ca4e563166535a67e",
    "bug.filed.v1.minimal.msgpack": "68ac3da6e064a1153abda52aa20021fbb6da3da16aed11128f156fe09c5bd7d5",
    "bug.filed.v1.msgpack": "faa4c236f12fb7e448086c7268c4b9724ac4be0c0692bc64fc3c7344291f34b5",
    "error.observed.v1.minimal.msgpack": "9bad050de9316de0614450bedc79c51ae11b5ad1c4060323982be28a729d2ff9",
    "error.observed.v1.msgpack": "fe6c01d17c7b289d1eb98d33f9bc387e8e4ad7a7179d9f6b766d4c7f6819b47d",
    "threshold.crossed.v1.minimal.msgpack": "21d4402398a4014ffec61abd73cb72154464625d1742032e54f21bf7cdf4b511",
    "threshold.crossed.v1.msgpack": "914ce6bf89e4b52704e942e922d2d55d89ba174aca1b0fbea3173fc22f75bfda",
}


def _raw_map(name: str) -> dict:
    return msgpack.unpackb(cases.path_of(name).read_bytes(), raw=False)


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_golden_file_decodes_to_its_case(name):
    target = cases.path_of(name)
    assert target.exists(), f"{target.name} missing: run with {cases.WRITE_ENV}=1 to write it"
    assert codec.decode(target.read_bytes()) == cases.CASES[name]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_current_version_encodes_to_identical_bytes(name):
    event = cases.CASES[name]
    wire = _raw_map(name)
    assert (wire["type"], wire["v"]) == (event.TYPE, int(name.split(".v")[1].split(".")[0]))
    if wire["v"] == event.VERSION:  # older files only have to decode (through upcasters)
        assert codec.encode(event) == cases.path_of(name).read_bytes()


def test_every_event_type_has_a_golden_file_at_its_current_version():
    pinned = {(wire["type"], wire["v"]) for wire in map(_raw_map, cases.CASES)}
    assert {(cls.TYPE, cls.VERSION) for cls in EVENT_TYPES.values()} <= pinned


def test_every_golden_file_has_a_case():
    files = {p.name.removesuffix(".msgpack") for p in cases.GOLDEN_DIR.glob("*.msgpack")}
    assert files == set(cases.CASES)


@pytest.mark.parametrize("filename", sorted(PINNED))
def test_golden_file_bytes_never_change(filename):
    assert hashlib.sha256((cases.GOLDEN_DIR / filename).read_bytes()).hexdigest() == PINNED[filename]


def test_every_golden_file_is_pinned():
    assert {p.name for p in cases.GOLDEN_DIR.glob("*.msgpack")} == set(PINNED)


def test_golden_fields_come_in_the_pinned_order():
    data = cases.path_of("bug.filed.v1").read_bytes()
    assert data.startswith(bytes.fromhex("8a a1 76 01 a4 74797065 a9 6275672e66696c6564"))  # {"v": 1, "type": "bug.filed"
    wire = _raw_map("bug.filed.v1")
    assert list(wire) == ["v", "type", "id", "ts", "fingerprint", "bug_id", "issue_url", "backend", "adopted", "reopened"]


def test_writer_creates_only_missing_files(tmp_path, monkeypatch):
    monkeypatch.setattr(cases, "GOLDEN_DIR", tmp_path)
    existing = tmp_path / "bug.filed.v1.msgpack"
    existing.write_bytes(b"kept as it is")
    written = cases.write_missing()
    assert existing.read_bytes() == b"kept as it is"
    assert existing not in written
    assert {p.name for p in written} == {f"{name}.msgpack" for name in cases.CASES} - {existing.name}
    assert cases.write_missing() == []


def test_writing_needs_the_explicit_variable(monkeypatch):
    monkeypatch.delenv(cases.WRITE_ENV, raising=False)
    assert not cases.writing_enabled()
    monkeypatch.setenv(cases.WRITE_ENV, "1")
    assert cases.writing_enabled()
