"""Redis names: prefixes, shard hash tags, shard choice, and the Redis Cluster slot of spool markers."""

from __future__ import annotations

import hashlib

import fakeredis
import pytest

from contracts.names import DEFAULT_PREFIX, EVENT_FIELD, GROUP_BUGBOT, GROUP_PROJECTOR, MAX_SHARDS, Names, hash_tag, shard_for


def crc16_xmodem(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for key slots."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key: str) -> int:
    """The cluster slot of a key, following the hash-tag rule of the Redis Cluster specification."""
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16_xmodem(raw) % 16384


def fingerprint(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_the_slot_function_matches_the_redis_specification():
    assert crc16_xmodem(b"123456789") == 0x31C3  # the spec's reference value
    assert key_slot("foo") == 12182  # CLUSTER KEYSLOT foo
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers") == key_slot("user1000")
    assert key_slot("foo{}{bar}") == crc16_xmodem(b"foo{}{bar}") % 16384
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")


# -- names under the default and a configured prefix ----------------------------------------------------


def _all_names(names: Names) -> dict[str, str]:
    return {
        "errors": names.errors(),
        "dead": names.dead(),
        "lease": names.lease(),
        "signals": names.signals,
        "signals_dead": names.signals_dead,
        "known": names.known,
        "known_version": names.known_version,
        "known_views": names.known_views,
        "drops": names.drops,
        "capture_stats": names.capture_stats,
        "heartbeat": names.heartbeat("projector", "web-1"),
        "bug_counter": names.bug_counter,
        "scan_state": names.scan_state,
    }


def test_default_names():
    assert DEFAULT_PREFIX == "errortrail:"
    assert (EVENT_FIELD, GROUP_PROJECTOR, GROUP_BUGBOT) == ("e", "projector", "bugbot")
    assert _all_names(Names()) == {
        "errors": "errortrail:errors",
        "dead": "errortrail:dead",
        "lease": "errortrail:lease",
        "signals": "errortrail:signals",
        "signals_dead": "errortrail:signals:dead",
        "known": "errortrail:known",
        "known_version": "errortrail:{errortrail:known}:version",
        "known_views": "errortrail:known:views",
        "drops": "errortrail:capture:drops",
        "capture_stats": "errortrail:capture:stats",
        "heartbeat": "errortrail:heartbeat:projector:web-1",
        "bug_counter": "errortrail:bugs:next",
        "scan_state": "errortrail:scan",
    }
    assert Names().all_errors() == ["errortrail:errors"]


@pytest.mark.parametrize("prefix", ["clinic:", "test-3f2b:", "x", "{clinic}:"])
def test_a_configured_prefix_starts_every_name(prefix):
    default = _all_names(Names())
    for role, name in _all_names(Names(prefix)).items():
        if role == "known_version":  # tagged with the map's own name, prefix included
            assert name == f"{prefix}{{{prefix}known}}:version"
        else:
            assert name == prefix + default[role].removeprefix(DEFAULT_PREFIX)


@pytest.mark.parametrize("prefix", ["", None, 5, "a{b", "a}b", "{}:", "x}{", "}"])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        Names(prefix)


@pytest.mark.parametrize("shards", [0, -1, MAX_SHARDS + 1, True, "2", 2.0, None])
def test_bad_shard_counts_are_refused(shards):
    with pytest.raises(ValueError, match="shards"):
        Names(shards=shards)


# -- shards -----------------------------------------------------------------------------------------------


def test_one_shard_gives_plain_names():
    names = Names(shards=1)
    assert (names.errors(0), names.dead(0), names.lease(0)) == ("errortrail:errors", "errortrail:dead", "errortrail:lease")
    assert names.errors_for(fingerprint(1)) == "errortrail:errors"


def test_several_shards_share_a_hash_tag_per_shard():
    names = Names(shards=4)
    assert names.errors(3) == "errortrail:{3}:errors"
    assert names.dead(3) == "errortrail:{3}:dead"
    assert names.lease(3) == "errortrail:{3}:lease"
    assert names.all_errors() == [f"errortrail:{{{i}}}:errors" for i in range(4)]
    assert Names("app:", shards=2).errors(1) == "app:{1}:errors"
    for shard in range(4):
        assert key_slot(names.errors(shard)) == key_slot(names.dead(shard)) == key_slot(names.lease(shard))
    assert len({key_slot(stream) for stream in names.all_errors()}) == 4
    # Shared names stay unsharded.
    assert names.signals == "errortrail:signals" and names.known == "errortrail:known"


@pytest.mark.parametrize("prefix", ["errortrail:", "app:", "a{b}:"])
def test_the_known_map_and_its_version_share_a_cluster_slot(prefix):
    names = Names(prefix)
    assert key_slot(names.known) == key_slot(names.known_version)


@pytest.mark.parametrize("shard", [-1, 4, 100])
def test_a_shard_out_of_range_is_refused(shard):
    with pytest.raises(ValueError, match="out of range"):
        Names(shards=4).errors(shard)
    with pytest.raises(ValueError, match="out of range"):
        Names(shards=1).errors(1 if shard > 0 else shard)


def test_shard_for_is_pinned_stable_and_in_range():
    assert shard_for("5d41402abc4b2a76b9719d911017c592ae9f2a5e0b6c3f1d8e7a6b5c4d3e2f10", 8) == 0x5D41402A % 8
    assert shard_for("00000007" + "0" * 56, 4) == 3
    for shards in (1, 2, 3, 7, 16, MAX_SHARDS):
        for n in range(300):
            chosen = shard_for(fingerprint(n), shards)
            assert 0 <= chosen < shards
            assert chosen == shard_for(fingerprint(n), shards)


def test_shard_for_spreads_fingerprints():
    counts = [0] * 8
    for n in range(8000):
        counts[shard_for(fingerprint(n), 8)] += 1
    assert min(counts) > 800


@pytest.mark.parametrize("odd", ["", "zz", "not-a-fingerprint", "-1234567", "ÿÿÿÿ"])
def test_shard_for_takes_any_string(odd):
    assert 0 <= shard_for(odd, 5) < 5
    assert shard_for(odd, 5) == shard_for(odd, 5)


def test_shard_for_one_shard_is_zero():
    assert shard_for(fingerprint(3), 1) == shard_for(fingerprint(3), 0) == 0


def test_errors_for_routes_by_shard_for():
    names = Names(shards=6)
    for n in range(50):
        assert names.errors_for(fingerprint(n)) == names.errors(shard_for(fingerprint(n), 6))


# -- spool markers: same cluster slot as their stream ---------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [Names(), Names(shards=8), Names("clinic:"), Names("clinic:", shards=3), Names("{clinic}:"), Names("{clinic}:", shards=4)],
    ids=lambda n: f"{n.prefix}x{n.shards}",
)
def test_spool_done_is_in_its_streams_slot(names):
    for stream in names.all_errors():
        marker = names.spool_done(stream, "20241204-abc")
        assert marker.startswith(names.prefix)
        assert marker.endswith("spool:done:20241204-abc")
        assert key_slot(marker) == key_slot(stream), (marker, stream)


def test_spool_done_names():
    assert Names().spool_done("errortrail:errors", "b1") == "errortrail:{errortrail:errors}:spool:done:b1"
    assert Names(shards=4).spool_done("errortrail:{2}:errors", "b1") == "errortrail:{2}:spool:done:b1"
    assert Names(shards=4).spool_done("errortrail:{2}:errors", "b1") != Names(shards=4).spool_done("errortrail:{3}:errors", "b1")


@pytest.mark.parametrize("stream", ["odd{}stream", "odd}stream", "odd{stream"])
def test_spool_done_refuses_a_stream_whose_slot_it_cannot_share(stream):
    with pytest.raises(ValueError, match="cannot place"):
        Names().spool_done(stream, "b1")


@pytest.mark.parametrize(
    "key, tag",
    [("a", None), ("{a}", "a"), ("x{a}y{b}", "a"), ("{}a", None), ("a{b", None), ("a}b{c}", "c"), ("{{a}}", "{a")],
)
def test_hash_tag(key, tag):
    assert hash_tag(key) == tag


# -- heartbeats --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ours, other", [("a*:", "abc:"), ("a?:", "ab:"), ("[ab]:", "a:"), ("a*[x]?:", "a*x]:")])
def test_heartbeat_pattern_matches_only_its_own_keys(ours, other):
    client = fakeredis.FakeRedis()
    for prefix in (ours, other):
        client.set(Names(prefix).heartbeat("projector", "p1"), 1)
        client.set(Names(prefix).heartbeat("bugbot", "b1"), 1)
    found = {key.decode() for key in client.scan_iter(match=Names(ours).heartbeat_pattern("projector"))}
    assert found == {f"{ours}heartbeat:projector:p1"}
    found = {key.decode() for key in client.scan_iter(match=Names(ours).heartbeat_pattern())}
    assert found == {f"{ours}heartbeat:projector:p1", f"{ours}heartbeat:bugbot:b1"}


def test_heartbeat_pattern_of_the_default_prefix():
    assert Names().heartbeat_pattern("bugbot") == "errortrail:heartbeat:bugbot:*"
