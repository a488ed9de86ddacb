"""In-process checks against the real Redis (gap claims, XAUTOCLAIM replies) and the real database (replay)."""

from __future__ import annotations

import pytest

from contracts.names import GROUP_PROJECTOR
from projector import conf
from projector.loop import Projector
from projector.replay import replay
from projector.store import for_alias
from projector.stream import connect
from tests.projector_support.factories import BASE_MS, aggregates, counts, event, expected, xadd

pytestmark = [pytest.mark.integration, pytest.mark.backends, pytest.mark.django_db]


@pytest.fixture
def client(live, redis_url):
    return connect(redis_url, 5.0)


def projector(client, consumer, **kwargs):
    return Projector(client, for_alias("default"), conf.get(), conf.names(), consumer=consumer, until_idle=True,
                     **kwargs)


def test_entries_an_old_holder_read_are_claimed_back(live, client):
    xadd(client, live.names, [event(1)])
    old, new = projector(client, "old"), projector(client, "new")
    old.manage_leases()
    shard = old.held[0]
    new.leases[0].acquire(force=True)
    new.take(0)
    xadd(client, live.names, [event(2), event(3)])
    entries, _, _ = shard.reader.read_new(shard.tail, 10)  # the old one keeps reading: 1, 2 and 3
    assert len(entries) == 3
    xadd(client, live.names, [event(4)])
    new.run()
    assert counts() == expected([event(1), event(2), event(3), event(4)])
    old.shutdown()


def test_an_idle_read_returns_the_last_id(live, client):
    p = projector(client, "idle")
    p.manage_leases()
    shard = p.held[0]
    assert shard.reader.read_new(shard.tail, 10) == ([], "0-0", True)
    [entry_id] = xadd(client, live.names, [event(1)])
    entries, tail, caught_up = shard.reader.read_new(shard.tail, 10)
    assert [e for e, _ in entries] == [entry_id] and tail == entry_id and not caught_up
    assert shard.reader.read_new(tail, 10) == ([], entry_id, True)
    p.shutdown()


def test_claims_and_delivery_counts_on_real_redis(live, client):
    stream = live.names.errors()
    client.xgroup_create(stream, GROUP_PROJECTOR, id="0", mkstream=True)
    evs = [event(i, ts=BASE_MS + i) for i in range(30)]
    xadd(client, live.names, evs)
    client.xreadgroup(GROUP_PROJECTOR, "gone", {stream: ">"}, count=30)
    p = projector(client, "claimer")
    p.run()
    assert counts() == expected(evs) and client.xpending(stream, GROUP_PROJECTOR)["pending"] == 0


def test_replay_equals_live_on_the_real_database(live, client, settings):
    evs = [event(i % 11, cls=("app_error", "csrf", "not_found")[i % 3], ts=BASE_MS + i * 4000, user_id=str(i % 6),
                 weight=1 + i % 4) for i in range(400)]
    xadd(client, live.names, evs)
    projector(client, "live").run()
    before = aggregates()
    result = replay(client, for_alias("default"), conf.names(), conf.get(), batch=64)
    assert result.events == 400 and aggregates() == before
