"""Names on a Redis Cluster: every key a MULTI, script or WATCH touches together shares a slot; single Redis unchanged."""

from __future__ import annotations

import pytest
from redis.crc import key_slot as redis_key_slot

from contracts.names import Names


def slot(key: str) -> int:
    return redis_key_slot(key.encode())


@pytest.mark.parametrize("prefix", ["errortrail:", "app:", "{app}:", "a{b}:"])
@pytest.mark.parametrize("shards", [1, 2, 6])
def test_on_a_cluster_what_changes_together_shares_a_slot(prefix, shards):
    names = Names(prefix, shards=shards, cluster=True)
    for i in range(shards):
        stream = names.errors(i)
        # The projector's dead-letter + XACK MULTI, its lease script, the spool's XADD + marker MULTI,
        # and the dashboard's requeue (WATCH dead, XADD stream, XDEL dead).
        assert slot(stream) == slot(names.dead(i)) == slot(names.lease(i)) == slot(names.spool_done(stream, "b"))
    assert slot(names.signals) == slot(names.signals_dead)  # bugbot's dead letters, requeued by the dashboard
    assert slot(names.known) == slot(names.known_version)  # the known map's MULTI


def test_on_a_cluster_one_shard_is_tagged_too():
    names = Names(cluster=True)
    assert (names.errors(), names.dead(), names.lease()) == (
        "errortrail:{0}:errors", "errortrail:{0}:dead", "errortrail:{0}:lease")
    assert names.all_errors() == ["errortrail:{0}:errors"]
    assert names.signals_dead == "errortrail:{errortrail:signals}:dead"
    assert Names(shards=6, cluster=True).errors(5) == Names(shards=6).errors(5) == "errortrail:{5}:errors"


def test_a_prefix_with_its_own_tag_keeps_the_plain_signals_dead_letters():
    names = Names("{app}:", cluster=True)
    assert names.signals_dead == "{app}:signals:dead" and names.errors() == "{app}:{0}:errors"


def test_a_single_redis_keeps_the_plain_names():
    plain = Names()
    assert plain.cluster is False
    assert (plain.errors(), plain.dead(), plain.lease(), plain.signals_dead) == (
        "errortrail:errors", "errortrail:dead", "errortrail:lease", "errortrail:signals:dead")


@pytest.mark.parametrize("cluster", ["true", 1, None])
def test_cluster_must_be_a_bool(cluster):
    with pytest.raises(ValueError, match="cluster"):
        Names(cluster=cluster)
