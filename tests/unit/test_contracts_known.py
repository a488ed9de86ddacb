"""The known-issue map: entry validation, JSON form, parsing, matching, and the writer against fakeredis."""

from __future__ import annotations

import json

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import known
from contracts.known import KnownEntry, KnownMap, KnownMapError
from contracts.names import Names

FP1 = "a" * 64
FP2 = "0123456789abcdef" * 4


def exact(bug_id="B-1", fingerprint=FP1, **kw) -> KnownEntry:
    return KnownEntry(bug_id=bug_id, message=kw.pop("message", "We know"), fingerprint=fingerprint, **kw)


def pattern(bug_id="B-2", glob="/checkout/*", error_type="csrf", **kw) -> KnownEntry:
    return KnownEntry(bug_id=bug_id, message=kw.pop("message", "Checkout forms expire"), glob=glob, error_type=error_type, **kw)


# -- entries ---------------------------------------------------------------------------------------------


def test_valid_entries_and_their_keys():
    assert exact().key == f"fp:{FP1}"
    assert pattern().key == "pat:B-2"
    entry = pattern(bug_id="BUG-123456789", url="https://github.com/acme/clinic/issues/12", status="fixed", fixed_at=1)
    assert (entry.status, entry.fixed_at) == ("fixed", 1)


@pytest.mark.parametrize("bug_id", ["", "b-1", "B1", "B-", "-1", "1-1", "TOOLONG-1", "B-1234567890", "B-1\n", "B-1 ", 5, None])
def test_bad_bug_ids(bug_id):
    with pytest.raises(KnownMapError, match="bug id"):
        exact(bug_id=bug_id)


@pytest.mark.parametrize("status", ["", "closed", "OPEN", None, 5, ["open"]])
def test_bad_statuses(status):
    with pytest.raises(KnownMapError, match="status"):
        exact(status=status)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "ftp://example.com/x",
        "mailto:a@example.com",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "https://",
        "https:///path",
        "https://github.com@evil.example/x",
        "https://exa mple.com",
        "https://example.com/\nx",
        "https://example.com/\x00",
        "/bugs/\tB-1",
        "bugs/B-1",
        "/" + "x" * known.MAX_URL,
    ],
)
def test_unsafe_or_odd_urls_are_refused(url):
    with pytest.raises(KnownMapError, match="url"):
        exact(url=url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/",
        "/errortrail/bugs/B-1",
        "https://github.com/acme/clinic/issues/12",
        "http://localhost:8000/issues/1?x=1#c",
        "https://ghe.example",
        "HTTPS://GHE.EXAMPLE/x",
        "https://ghe.example:8443/acme/clinic/issues/1",
        "https://ghe.example?x",
    ],
)
def test_safe_urls_are_kept(url):
    assert exact(url=url).url == url


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fingerprint": "", "glob": "", "error_type": ""},
        {"fingerprint": "", "glob": "/checkout/*", "error_type": ""},
        {"fingerprint": "", "glob": "", "error_type": "csrf"},
        {"fingerprint": FP1, "glob": "/checkout/*", "error_type": ""},
        {"fingerprint": FP1, "glob": "", "error_type": "csrf"},
        {"fingerprint": "A" * 64},
        {"fingerprint": "a" * 63},
        {"fingerprint": "a" * 64 + "\n"},
        {"fingerprint": "", "glob": "/" + "x" * 512, "error_type": "csrf"},
        {"fingerprint": "", "glob": "/x", "error_type": "x" * 33},
    ],
)
def test_an_entry_is_exactly_one_of_fingerprint_or_a_whole_pattern(kwargs):
    with pytest.raises(KnownMapError, match="fingerprint|pattern"):
        KnownEntry(bug_id="B-1", message="m", **kwargs)


@pytest.mark.parametrize(
    "field, value",
    [
        ("message", 5),
        ("message", None),
        ("url", None),
        ("fingerprint", 5),
        ("glob", ["/checkout/*"]),
        ("error_type", 403),
    ],
)
def test_wrongly_typed_fields_raise_known_map_error(field, value):
    kwargs = {"bug_id": "B-1", "message": "m", "glob": "/x", "error_type": "csrf", field: value}
    with pytest.raises(KnownMapError, match=field):
        KnownEntry(**kwargs)


def test_message_length():
    assert len(exact(message="m" * known.MAX_MESSAGE).message) == 1000
    with pytest.raises(KnownMapError, match="message"):
        exact(message="m" * (known.MAX_MESSAGE + 1))


@pytest.mark.parametrize("fixed_at", [-1, True, 1.5, "1733300000123", None])
def test_bad_fixed_at(fixed_at):
    with pytest.raises(KnownMapError, match="fixed_at"):
        exact(fixed_at=fixed_at)


# -- JSON form -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        exact(),
        exact(message=""),
        exact(status="fixed", fixed_at=1_733_300_000_123, url="https://github.com/acme/clinic/issues/1"),
        pattern(),
        pattern(error_type="*", glob="/api/[a-z]?/*", status="wontfix", message="Ünïcode ✓ \"quoted\""),
    ],
)
def test_json_round_trip(entry):
    assert KnownEntry.from_json(entry.to_json()) == entry
    assert KnownEntry.from_json(entry.to_json().encode()) == entry


def test_json_is_compact_sorted_and_omits_empty_optionals():
    assert exact().to_json() == f'{{"bug_id":"B-1","fingerprint":"{FP1}","message":"We know","status":"open"}}'
    assert json.loads(exact(message="").to_json())["message"] == ""


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{",
        "not json",
        b"\xff\xfe\x00",
        "[]",
        '"B-1"',
        "null",
        '{"bug_id": "B-1"}',
        '{"bug_id": "B-1", "message": "m", "fingerprint": "' + FP1 + '", "extra": 1}',
        '{"bug_id": "B-1", "message": "m", "glob": ["/x"], "error_type": "csrf"}',
        '{"bug_id": "B-1", "message": "m", "fingerprint": "' + FP1 + '", "fixed_at": 1e400}',
        '{"bug_id": "B-1", "message": "m", "fingerprint": "' + FP1 + '", "fixed_at": NaN}',
        "[" * 100_000,
        None,
        5,
    ],
)
def test_from_json_refuses_anything_invalid_with_known_map_error(raw):
    with pytest.raises(KnownMapError):
        KnownEntry.from_json(raw)


# -- parse -----------------------------------------------------------------------------------------------


def test_parse_reads_an_hgetall_reply_and_counts_what_it_skips():
    good = [exact(), pattern(), exact(bug_id="B-3", fingerprint=FP2, status="fixed", fixed_at=5)]
    raw = {entry.key.encode(): entry.to_json().encode() for entry in good}
    raw[b"fp:" + b"b" * 64] = b"{broken"
    raw[b"pat:B-9"] = pattern(bug_id="B-8").to_json().encode()  # stored under another entry's field
    raw[b"pat:B-7"] = b'{"bug_id":"B-7","message":"m","glob":"/x"}'
    raw["fp:" + "c" * 64] = "[" * 10_000
    parsed = known.parse(raw, version=7)
    assert (parsed.version, parsed.invalid, len(parsed)) == (7, 4, 3)
    assert sorted(parsed.entries(), key=lambda e: e.bug_id) == good


@pytest.mark.parametrize("raw, version", [(None, 0), (b"", 0), (b"7", 7), ("12", 12), (b"x", 0), (b"1.5", 0), ([], 0)])
def test_parse_version(raw, version):
    assert known.parse_version(raw) == version


# -- matching --------------------------------------------------------------------------------------------


def test_exact_entries_come_before_patterns():
    entries = KnownMap([pattern(bug_id="B-2", glob="/checkout/*"), exact(bug_id="B-1")])
    assert entries.match(FP1, "csrf", "/checkout/pay/").bug_id == "B-1"
    assert entries.match(FP2, "csrf", "/checkout/pay/").bug_id == "B-2"


@pytest.mark.parametrize("status", ["fixed", "wontfix"])
def test_only_open_entries_match(status):
    entries = KnownMap([exact(bug_id="B-1", status=status), pattern(bug_id="B-2", status=status)])
    assert entries.match(FP1, "csrf", "/checkout/pay/") is None
    fallback = KnownMap([exact(bug_id="B-1", status=status), pattern(bug_id="B-2")])
    assert fallback.match(FP1, "csrf", "/checkout/pay/").bug_id == "B-2"


def test_error_type_must_match_unless_it_is_a_wildcard():
    entries = KnownMap([pattern(bug_id="B-2", error_type="csrf")])
    assert entries.match(FP2, "404", "/checkout/x") is None
    anything = KnownMap([pattern(bug_id="B-3", error_type="*")])
    for error_type in ("csrf", "404", "500"):
        assert anything.match(FP2, error_type, "/checkout/x").bug_id == "B-3"


def test_globs_match_case_sensitively_and_across_slashes():
    entries = KnownMap([pattern(glob="/checkout/*")])
    assert entries.match(FP2, "csrf", "/checkout/pay/card/3/").bug_id == "B-2"
    assert entries.match(FP2, "csrf", "/Checkout/pay/") is None
    assert entries.match(FP2, "csrf", "/checkout") is None


@pytest.mark.parametrize("order", [1, -1])
def test_the_most_specific_glob_wins(order):
    # Every CSRF failure under /checkout/ is B-1; the payment step has its own bug B-9.
    broad, narrow = pattern(bug_id="B-1", glob="/checkout/*"), pattern(bug_id="B-9", glob="/checkout/pay/*")
    entries = KnownMap([broad, narrow][::order])
    assert entries.match(FP2, "csrf", "/checkout/pay/card/").bug_id == "B-9"
    assert entries.match(FP2, "csrf", "/checkout/cart/").bug_id == "B-1"
    assert [e.bug_id for e in entries.patterns] == ["B-9", "B-1"]


def test_wildcards_are_not_counted_as_literal_text():
    assert known.specificity("/checkout/*") == len("/checkout/")
    assert known.specificity("/checkout/[a-z]?*") == len("/checkout/")
    entries = KnownMap([pattern(bug_id="B-1", glob="/checkout/[a-z][a-z]*"), pattern(bug_id="B-2", glob="/checkout/pa*")])
    assert entries.match(FP2, "csrf", "/checkout/pay/").bug_id == "B-2"


def test_a_named_error_type_beats_the_wildcard_at_equal_specificity():
    entries = KnownMap([pattern(bug_id="B-1", error_type="*"), pattern(bug_id="B-2", error_type="csrf")])
    assert entries.match(FP2, "csrf", "/checkout/x").bug_id == "B-2"
    assert entries.match(FP2, "403", "/checkout/x").bug_id == "B-1"


def test_literal_text_not_position_decides():
    a, b = pattern(bug_id="B-2", glob="/checkout/*"), pattern(bug_id="B-1", glob="/*/pay/")
    assert KnownMap([b, a]).match(FP2, "csrf", "/checkout/pay/").bug_id == "B-2"  # 10 literal characters vs 6


def test_ties_are_broken_by_bug_id_whatever_the_order():
    a, c = pattern(bug_id="B-1", glob="/checkout/*"), pattern(bug_id="B-3", glob="/checkout/*")
    assert KnownMap([c, a]).match(FP2, "csrf", "/checkout/x").bug_id == "B-1"
    assert KnownMap([a, c]).match(FP2, "csrf", "/checkout/x").bug_id == "B-1"


def test_an_empty_map_matches_nothing():
    empty = KnownMap()
    assert (len(empty), empty.version, empty.invalid, empty.entries()) == (0, 0, 0, [])
    assert empty.match(FP1, "csrf", "/") is None


# -- writer against fakeredis ---------------------------------------------------------------------------


@pytest.fixture
def client():
    return fakeredis.FakeRedis()


def _commands_of(client, monkeypatch) -> list:
    """Record (transaction flag, command names) of every pipeline the client executes."""
    seen = []
    original = client.pipeline

    def pipeline(transaction=True, shard_hint=None):
        pipe = original(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        def recorded_execute(raise_on_error=True):
            seen.append((transaction, [str(args[0]) for args, _ in pipe.command_stack]))
            return execute(raise_on_error)

        pipe.execute = recorded_execute
        return pipe

    monkeypatch.setattr(client, "pipeline", pipeline)
    return seen


def test_publish_replaces_the_map_and_bumps_the_version(client):
    names = Names()
    assert known.publish(client, names, [exact(), pattern()]) == 1
    loaded = known.load(client, names)
    assert (loaded.version, loaded.invalid, sorted(e.bug_id for e in loaded.entries())) == (1, 0, ["B-1", "B-2"])
    assert known.publish(client, names, [exact(bug_id="B-5", fingerprint=FP2)]) == 2
    loaded = known.load(client, names)
    assert (loaded.version, [e.bug_id for e in loaded.entries()]) == (2, ["B-5"])
    assert known.publish(client, names, []) == 3
    assert client.exists(names.known) == 0
    assert (known.load(client, names).version, len(known.load(client, names))) == (3, 0)


def test_put_adds_or_changes_one_entry(client):
    names = Names()
    known.publish(client, names, [exact()])
    assert known.put(client, names, pattern()) == 2
    assert known.put(client, names, exact(status="fixed", fixed_at=9)) == 3
    loaded = known.load(client, names)
    assert loaded.version == 3
    assert loaded.exact[FP1].status == "fixed"
    assert [e.bug_id for e in loaded.patterns] == ["B-2"]


def test_put_removes_the_field_it_replaces(client):
    names = Names()
    old = exact(bug_id="B-4")
    known.put(client, names, old)
    new = pattern(bug_id="B-4", glob="/pets/*", error_type="404")
    assert known.put(client, names, new, replaces=old.key) == 2
    assert client.hkeys(names.known) == [b"pat:B-4"]
    assert known.put(client, names, new, replaces=new.key) == 3
    assert client.hkeys(names.known) == [b"pat:B-4"]


def test_remove_deletes_one_field_and_bumps_the_version(client):
    names = Names()
    known.publish(client, names, [exact(), pattern()])
    assert known.remove(client, names, "pat:B-2") == 2
    assert [e.bug_id for e in known.load(client, names).entries()] == ["B-1"]
    assert known.remove(client, names, "pat:nothing") == 3


def test_load_of_nothing_and_of_damaged_fields(client):
    names = Names()
    empty = known.load(client, names)
    assert (empty.version, len(empty), empty.invalid) == (0, 0, 0)
    known.publish(client, names, [exact()])
    client.hset(names.known, "fp:" + "b" * 64, "{damaged")
    client.hset(names.known, "pat:B-3", pattern(bug_id="B-2").to_json())
    loaded = known.load(client, names)
    assert (loaded.version, len(loaded), loaded.invalid) == (1, 1, 2)


def test_each_prefix_has_its_own_map(client):
    known.publish(client, Names("a:"), [exact()])
    known.publish(client, Names("b:"), [pattern()])
    known.publish(client, Names("b:"), [pattern()])
    assert [(m.version, [e.bug_id for e in m.entries()]) for m in (known.load(client, Names("a:")), known.load(client, Names("b:")))] == [
        (1, ["B-1"]),
        (2, ["B-2"]),
    ]


def test_every_write_is_one_transaction_that_bumps_the_version(client, monkeypatch):
    names = Names()
    seen = _commands_of(client, monkeypatch)
    known.publish(client, names, [exact()])
    known.put(client, names, pattern(), replaces="fp:" + FP1)
    known.remove(client, names, "pat:B-2")
    known.load(client, names)
    assert seen == [
        (True, ["DEL", "HSET", "INCRBY"]),
        (True, ["HDEL", "HSET", "INCRBY"]),
        (True, ["HDEL", "INCRBY"]),
        (True, ["GET", "HGETALL"]),
    ]


# -- whatever the hash holds, parsing never raises ---------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_entry_json = st.fixed_dictionaries(
    {},
    optional={
        key: _json_values | st.sampled_from(["B-1", "open", "fixed", FP1, "/checkout/*", "csrf", "*", "https://x.example/1"])
        for key in ("bug_id", "message", "status", "url", "fingerprint", "error_type", "glob", "fixed_at")
    },
).map(json.dumps)


@settings(derandomize=True, database=None, deadline=None)
@given(
    st.dictionaries(
        st.binary(max_size=70) | st.sampled_from([b"pat:B-1", b"fp:" + FP1.encode()]),
        st.binary(max_size=200) | _entry_json.map(str.encode),
        max_size=6,
    )
)
def test_fuzz_parse_skips_and_counts_but_never_raises(raw):
    parsed = known.parse(raw)
    assert len(parsed) + parsed.invalid == len(raw)
    for entry in parsed.entries():
        assert KnownEntry.from_json(entry.to_json()) == entry
        parsed.match(entry.fingerprint or FP2, entry.error_type or "csrf", "/checkout/x")
