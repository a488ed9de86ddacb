"""Every app on a real three-node Redis Cluster: names and slots, capture, the known map, bugbot, the dashboard."""

from __future__ import annotations

import io
import time

import orjson
import pytest
from django.core.management import call_command
from django.test import Client
from redis.exceptions import CrossSlotTransactionError

from bugbot import connection as bugbot_connection
from bugbot import loop as bugbot_loop
from bugbot.models import Filing, KnownIssue
from capture import conf as capture_conf
from capture import publish
from contracts import codec
from contracts import known as known_map
from contracts.known import KnownEntry
from contracts.names import GROUP_BUGBOT, GROUP_PROJECTOR, shard_for
from projector import conf as projector_conf
from projector import maintenance
from projector import stream
from projector.lease import Lease
from projector.loop import Projector
from projector.store import for_alias
from tests.bugbot_support.factories import csrf_signal
from tests.cluster_support.fixtures import on_cluster, redis_cluster  # noqa: F401
from tests.projector_support.factories import counts, event, expected, xadd
from tests.webui_support.fixtures import staff_client, staff_user  # noqa: F401
from webui import connection as webui_connection
from webui import deadletters, health

pytestmark = pytest.mark.integration
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima")


def slot(client, key):
    return client.keyslot(key)


def entries(client, names):
    """Every error event on the cluster, per shard stream."""
    return {key: [codec.decode(f[b"e"]) for _, f in client.xrange(key)] for key in names.all_errors()}


# -- names: what must share a slot does, and shards spread over the nodes -------------------------------------


def test_each_shards_keys_share_one_slot_and_the_shards_spread_over_every_node(on_cluster, redis_cluster):
    names = capture_conf.names()
    assert names.cluster and names.shards == 6
    for i in range(names.shards):
        keys = [names.errors(i), names.dead(i), names.lease(i), names.spool_done(names.errors(i), "b1")]
        assert len({slot(on_cluster, k) for k in keys}) == 1, keys
    assert slot(on_cluster, names.signals) == slot(on_cluster, names.signals_dead)
    assert slot(on_cluster, names.known) == slot(on_cluster, names.known_version)
    assert {redis_cluster.port_of(k) for k in names.all_errors()} == set(redis_cluster.ports)


def test_with_one_shard_the_cluster_names_are_still_tagged(on_cluster, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SHARDS": 1}
    names = projector_conf.names()
    assert names.errors() == f"{names.prefix}{{0}}:errors" and names.lease() == f"{names.prefix}{{0}}:lease"
    assert len({slot(on_cluster, k) for k in (names.errors(), names.dead(), names.lease())}) == 1


def test_a_transaction_across_slots_is_refused_by_the_cluster_client(on_cluster):
    names = capture_conf.names()
    pipe = on_cluster.pipeline(transaction=True)
    pipe.xadd(names.errors(0), {"e": b"x"})
    pipe.xadd(names.errors(1), {"e": b"x"})
    with pytest.raises(CrossSlotTransactionError):
        pipe.execute()  # what every MULTI of errortrail would hit if its keys were spread


# -- capture ----------------------------------------------------------------------------------------------------


def test_capture_through_the_django_client_puts_each_event_in_its_shard(on_cluster, redis_cluster):
    names = capture_conf.names()
    web = Client(raise_request_exception=False)
    refs = {}
    for word in WORDS:
        response = web.get(f"/gone/{word}/")
        assert response.status_code == 404 and b"Reference: <code>" in response.content
        refs[response["X-Error-Reference"]] = word
    crash = web.get("/crash/")
    assert crash.status_code == 500 and b"Something went wrong" in crash.content
    refs[crash["X-Error-Reference"]] = "crash"
    found = entries(on_cluster, names)
    seen = {}
    for key, events in found.items():
        for ev in events:
            assert key == names.errors(shard_for(ev.fingerprint, names.shards)) == names.errors_for(ev.fingerprint)
            seen[ev.id] = key
    assert sorted(seen) == sorted(refs)
    assert len({redis_cluster.port_of(key) for key in seen.values()}) >= 2  # one request path, several nodes
    publisher = publish.get_publisher()
    assert publisher.breaker.consecutive == 0 and not publisher.spool.has_files()


def test_one_publish_across_nodes_is_one_send(on_cluster, redis_cluster):
    names = capture_conf.names()
    publisher = publish.get_publisher()
    events = [event(word) for word in WORDS]
    assert len({redis_cluster.port_of(names.errors_for(e.fingerprint)) for e in events}) == 3
    assert publisher.publish(*events) == publish.SENT
    assert sorted(e.id for evs in entries(on_cluster, names).values() for e in evs) == sorted(e.id for e in events)
    assert publisher.breaker.consecutive == 0 and publisher.known.seen_version == 0


def test_a_node_refusing_writes_spools_only_its_events_and_the_flush_sends_them_once(on_cluster, redis_cluster):
    names = capture_conf.names()
    publisher = publish.get_publisher()
    events = [event(word) for word in WORDS]
    refused_port = redis_cluster.port_of(names.errors_for(events[0].fingerprint))
    refused = [e for e in events if redis_cluster.port_of(names.errors_for(e.fingerprint)) == refused_port]
    node = redis_cluster.node(refused_port)
    node.config_set("min-replicas-to-write", 1)  # this node now answers NOREPLICAS to every write
    try:
        assert publisher.publish(*events) == publish.SPOOLED  # the first event's fate
        stored = {e.id for evs in entries(on_cluster, names).values() for e in evs}
        assert stored == {e.id for e in events} - {e.id for e in refused}
        assert publisher.breaker.consecutive == 1 and publisher.spool.has_files()
    finally:
        node.config_set("min-replicas-to-write", 0)
    publisher.tick()  # flushes the spool: one MULTI per stream file, in the stream's slot with its done marker
    publisher.tick()
    ids = [e.id for evs in entries(on_cluster, names).values() for e in evs]
    assert sorted(ids) == sorted(e.id for e in events) and not publisher.spool.has_files()
    assert on_cluster.hget(names.capture_stats, "flushed") == str(len(refused)).encode()


def test_counters_pushed_across_nodes_count_once_when_one_node_refuses(on_cluster, redis_cluster):
    names = capture_conf.names()
    publisher = publish.get_publisher()
    keys = [f"{names.prefix}{{{i}}}:probe" for i in range(names.shards)]
    refused_port = redis_cluster.port_of(keys[0])
    node = redis_cluster.node(refused_port)
    node.config_set("min-replicas-to-write", 1)
    try:
        for key in keys:
            publisher.count(key, "n", 2)
        publisher.tick()  # the refusal is logged, not raised
        assert {k: on_cluster.hget(k, "n") for k in keys} == {
            k: None if redis_cluster.port_of(k) == refused_port else b"2" for k in keys}
    finally:
        node.config_set("min-replicas-to-write", 0)
    publisher.tick()
    assert [on_cluster.hget(k, "n") for k in keys] == [b"2"] * len(keys)


def test_the_flush_command_on_the_cluster(on_cluster, settings, tmp_path):
    names = capture_conf.names()
    publisher = publish.get_publisher()
    spooled = [event(word) for word in WORDS[:4]]
    for ev in spooled:
        assert publisher._to_spool(names.errors_for(ev.fingerprint), codec.encode(ev)) == publish.SPOOLED
    publisher.spool.seal_all()
    out = io.StringIO()
    call_command("flush_error_spool", stdout=out)
    assert out.getvalue().startswith("flushed 4 events")
    assert sorted(e.id for evs in entries(on_cluster, names).values() for e in evs) == sorted(e.id for e in spooled)


def test_the_known_map_published_on_the_cluster_is_shown_and_counted(on_cluster):
    names = capture_conf.names()
    version = known_map.publish(on_cluster, names, [KnownEntry(bug_id="B-044", message="", error_type="404",
                                                                glob="/gone/*")])
    assert known_map.put(on_cluster, names, KnownEntry(bug_id="B-045", message="", error_type="500",
                                                        glob="/crash/*")) == version + 1
    assert known_map.remove(on_cluster, names, "pat:B-045") == version + 2
    loaded = known_map.load(on_cluster, names)
    assert loaded.version == version + 2 and [e.bug_id for e in loaded.entries()] == ["B-044"]
    body = Client(raise_request_exception=False).get("/gone/alpha/").content
    assert b"We&#x27;re aware of this problem and working on it." in body and b"B-044" in body
    publish.get_publisher().tick()
    assert on_cluster.hget(names.known_views, "B-044") == b"1"


# -- the projector's Redis calls on the cluster (in process; processes are in tests/e2e) ----------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("read_ahead", [False, True], ids=["one-thread", "read-ahead"])
def test_the_projector_loop_drains_six_shards_on_three_nodes(on_cluster, settings, read_ahead):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "PROJECTOR_PREFETCH": read_ahead, "PROJECTOR_BLOCK_MS": 50,
                           "PROJECTOR_CLAIM_INTERVAL_S": 0.0}
    cfg, names = projector_conf.get(), projector_conf.names()
    evs = [event(i % 20, user_id=str(i % 3)) for i in range(120)]
    xadd(on_cluster, names, evs)
    on_cluster.xadd(names.errors(2), {"e": b"\x00garbage"})
    client = stream.connect(cfg["REDIS_URL"], cfg["PROJECTOR_SOCKET_TIMEOUT_S"], cluster=True)
    projector = Projector(client, for_alias("default"), cfg, names, consumer="solo", until_idle=True)
    assert projector.run() == 0
    assert counts() == expected(evs)
    assert [f[b"reason"][:11] for _, f in on_cluster.xrange(names.dead(2))] == [b"not msgpack"]
    for key in names.all_errors():
        assert on_cluster.xpending(key, GROUP_PROJECTOR)["pending"] == 0
    assert not any(on_cluster.exists(names.lease(i)) for i in range(names.shards))
    out = io.StringIO()
    call_command("replay_errors", stdout=out)
    assert out.getvalue().startswith("replayed 121 entries (120 events, 1 invalid)") and counts() == expected(evs)
    lengths = [on_cluster.xlen(key) for key in names.all_errors()]
    later_ms = int(time.time() * 1000) + 8 * 86_400_000  # past the retention: trim up to every group's position
    assert maintenance.trim_streams(now_ms=later_ms) == {"stream_entries_trimmed": sum(n - 1 for n in lengths if n)}
    [(dead_id, _)] = on_cluster.xrange(names.dead(2))
    assert deadletters.requeue(on_cluster, names.dead(2), dead_id.decode()) == deadletters.REQUEUED
    assert on_cluster.xrevrange(names.errors(2), count=1)[0][1][b"e"] == b"\x00garbage"
    # Waiting on streams of several slots: each is looked at, then one is blocked on.
    held = {key: "$" for key in names.all_errors()[:3]}
    assert stream.wait_for_entries(client, {k: "0-0" for k in held}, 10, cluster=True)
    assert not stream.wait_for_entries(client, held, 10, cluster=True)


def test_a_lease_on_the_cluster(on_cluster):
    names = projector_conf.names()
    a, b = Lease(on_cluster, names.lease(3), "a", 5), Lease(on_cluster, names.lease(3), "b", 5)
    assert a.acquire() and not b.acquire() and a.renew() and b.holder() == "a"
    a.release()
    assert b.acquire() and b.holder() == "b"


# -- bugbot and the dashboard -----------------------------------------------------------------------------------


@pytest.fixture
def bugbot_on_cluster(on_cluster, settings):
    """Bugbot on the cluster with the local tracker and an in-memory Celery."""
    from bugbot import bugids, filing

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "BUG_BACKEND": "local", "DASHBOARD_URL": "https://site.test/errors/"}
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"
    filing._tracker = None
    bugids.remote_floor.reset()
    yield on_cluster
    filing._tracker = None
    bugids.remote_floor.reset()


@pytest.mark.django_db(transaction=True)
def test_bugbot_files_from_the_cluster_dead_letters_a_stranger_and_the_dashboard_requeues_it(bugbot_on_cluster):
    client, names = bugbot_on_cluster, capture_conf.names()
    signal = csrf_signal()
    client.xadd(names.signals, {"e": codec.encode(signal)})
    client.xadd(names.signals, {"e": b"\x00not msgpack"})
    call_command("run_bugbot", "--until-idle", "--consumer", "cluster-bot", stdout=io.StringIO())
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.FILED and issue.bug_id == "B-001"
    assert client.xpending(names.signals, GROUP_BUGBOT)["pending"] == 0
    [(dead_id, dead)] = client.xrange(names.signals_dead)
    assert dead[b"reason"].startswith(b"undecodable")
    # The registry published the new known issue to the cluster, where capture reads it.
    assert known_map.load(client, names).exact[signal.fingerprint].bug_id == "B-001"
    assert deadletters.requeue(client, names.signals_dead, dead_id.decode()) == deadletters.REQUEUED
    assert client.xlen(names.signals_dead) == 0
    assert client.xrevrange(names.signals, count=1)[0][1][b"e"] == b"\x00not msgpack"
    assert bugbot_connection.emit(signal) is True


@pytest.mark.django_db
def test_the_health_panel_reads_the_cluster(on_cluster, staff_client, redis_cluster):  # noqa: F811
    names = projector_conf.names()
    evs = [event(word) for word in WORDS]
    xadd(on_cluster, names, evs)
    stream.ensure_group(on_cluster, names.errors(0), GROUP_PROJECTOR)
    on_cluster.xadd(names.dead(4), {"e": b"x", "reason": "test"})
    beats = [names.heartbeat("projector", f"p{i}") for i in range(6)]
    assert len({redis_cluster.port_of(k) for k in beats}) >= 2
    for key in beats:
        on_cluster.hset(key, mapping={"role": "projector", "consumer": key.rsplit(":", 1)[1], "updated_ms": 1})
        on_cluster.expire(key, 60)
    h = health.read()
    assert h.ok, h.fault
    by_key = {s.key: s for s in h.streams}
    assert set(by_key) == {*names.all_errors(), names.signals}
    assert sum(by_key[k].length for k in names.all_errors()) == len(evs)
    assert by_key[names.errors(0)].has_group and by_key[names.errors(0)].lag == by_key[names.errors(0)].length
    assert h.dead_total == 1
    assert sorted(b["consumer"] for b in h.heartbeats) == [f"p{i}" for i in range(6)]
    data = orjson.loads(staff_client.get("/errors/api/health/").content)
    assert data["health"]["ok"] is True and len(data["health"]["heartbeats"]) == 6
    webui_connection.reset()


def test_the_cluster_url_check(settings, on_cluster):
    from capture.checks import check_config

    assert check_config() == []
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": "redis://127.0.0.1:1/2"}
    assert [e.id for e in check_config()] == ["capture.E007"]
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": "unix:///run/redis.sock"}
    assert [e.id for e in check_config()] == ["capture.E007"]


def test_the_celery_broker_check(settings, on_cluster):
    from bugbot.checks import check_config

    del settings.CELERY_BROKER_URL
    assert "bugbot.W003" in [w.id for w in check_config()]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/1"
    assert "bugbot.W003" not in [w.id for w in check_config()]


# -- the cluster unreachable ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_capture_with_the_cluster_unreachable_serves_pages_and_spools_then_flushes(on_cluster, settings, redis_cluster,
                                                                                  closed_port_url):
    names = capture_conf.names()
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": closed_port_url}
    web = Client(raise_request_exception=False)
    refs = []
    for word in WORDS[:4]:
        response = web.get(f"/gone/{word}/")
        assert response.status_code == 404 and b"Reference: <code>" in response.content
        refs.append(response["X-Error-Reference"])
    publisher = publish.get_publisher()
    assert publisher.breaker.is_open and publisher.spool.has_files()
    assert isinstance(publisher.client, publish.LazyCluster) and publisher.client._client is None
    h = health.read()
    assert not h.ok and h.fault.startswith("Redis unreachable: RedisClusterUnreachableError")
    publisher.spool.seal_all()
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": redis_cluster.url}
    call_command("flush_error_spool", stdout=io.StringIO())
    assert sorted(e.id for evs in entries(on_cluster, names).values() for e in evs) == sorted(refs)
