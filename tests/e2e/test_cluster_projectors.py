"""Three run_projector processes share six shards on a real three-node Redis Cluster; kill -9 one; counts exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from contracts.names import GROUP_PROJECTOR, Names
from projector.models import Checkpoint, ErrorHourly
from tests.cluster_support.cluster import wait_for
from tests.cluster_support.fixtures import redis_cluster  # noqa: F401
from tests.projector_support.factories import BASE_MS, counts, event, expected, xadd

pytestmark = [pytest.mark.integration, pytest.mark.backends, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
SHARDS = 6
FAST = {
    "PROJECTOR_BLOCK_MS": "100",
    "PROJECTOR_LEASE_TTL_S": "1.5",
    "PROJECTOR_HEARTBEAT_S": "0.3",
    "PROJECTOR_BATCH_COUNT": "50",
    "PROJECTOR_BACKOFF_MAX_S": "0.2",
}
DEADLINE_S = 90.0  # generous: the lease TTL is 1.5 s, but the box is shared


def traffic(n, start=0):
    """n events over 60 fingerprints (every shard), one second apart, weights 1 and 2."""
    return [event(i % 60, cls=("app_error", "csrf", "not_found")[i % 3], ts=BASE_MS + (start + i) * 1000,
                  user_id=str(i % 5), weight=1 + i % 2) for i in range(n)]


def applied():
    return sum(Checkpoint.objects.values_list("applied", flat=True))


def holders(client, names):
    """shard -> the consumer holding its lease (None when free)."""
    out = {}
    for i in range(names.shards):
        raw = client.get(names.lease(i))
        out[i] = raw.decode().rsplit("|", 1)[0] if raw else None
    return out


def heartbeat_shards(client, names, consumers):
    """shard -> the consumer whose heartbeat (what the dashboard reads) says it is active on it."""
    out = {}
    for name in consumers:
        beat = client.hgetall(names.heartbeat("projector", name))
        if beat.get(b"state") == b"active":
            out.update({int(i): name for i in beat[b"shards"].decode().split(",")})
    return out


@pytest.fixture
def projectors(request, tmp_path):
    """Starts run_projector processes on the cluster and the test database; kills whatever is left."""
    if connection.vendor != "postgresql":
        pytest.skip("three projector processes share PostgreSQL: runs in the -m backends pass")
    redis_cluster = request.getfixturevalue("redis_cluster")  # only now: no cluster for a skipped test
    prefix = f"et-{uuid.uuid4().hex[:8]}:"
    name = connection.settings_dict["NAME"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(REPO),
           "ERRORTRAIL_REDIS_URL": redis_cluster.url, "ERRORTRAIL_REDIS_CLUSTER": "true",
           "ERRORTRAIL_PREFIX": prefix, "ERRORTRAIL_SHARDS": str(SHARDS),
           "ERRORTRAIL_TEST_PGDATABASE": name, "ERRORTRAIL_TEST_PGNAME": name,
           **{f"ERRORTRAIL_{k}": v for k, v in FAST.items()}}
    env.pop("ERRORTRAIL_TEST_CRASH_AT", None)
    procs: list[subprocess.Popen] = []

    class Rig:
        names = Names(prefix=prefix, shards=SHARDS, cluster=True)
        client = redis_cluster.client()

        @staticmethod
        def spawn(consumer):
            log = open(tmp_path / f"{consumer}.log", "w")
            proc = subprocess.Popen([sys.executable, "-m", "django", "run_projector", "--consumer", consumer],
                                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            proc.log_path = log.name
            procs.append(proc)
            return proc

    try:
        yield Rig
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.wait(30)
        Rig.client.close()


def test_three_projectors_share_the_shards_survive_a_kill_9_and_count_exactly(projectors, request):
    client, names = projectors.client, projectors.names
    redis_cluster = request.getfixturevalue("redis_cluster")
    first, second = traffic(600), traffic(1500, start=600)
    xadd(client, names, first)
    used = [key for key in names.all_errors() if client.xlen(key)]
    assert len(used) == SHARDS and {redis_cluster.port_of(k) for k in used} == set(redis_cluster.ports)

    procs = {name: projectors.spawn(name) for name in ("proj-a", "proj-b", "proj-c")}
    wait_for(lambda: set(holders(client, names).values()) == set(procs), DEADLINE_S,
             "every projector holding some of the six shards")
    wait_for(lambda: applied() == len(first), DEADLINE_S, "the first events applied")
    wait_for(lambda: heartbeat_shards(client, names, procs) == holders(client, names), DEADLINE_S,
             "the heartbeats reporting the shards each projector holds")

    victim = holders(client, names)[0]
    xadd(client, names, second)
    wait_for(lambda: applied() > len(first) + 100, DEADLINE_S, "the second wave being applied")
    os.kill(procs[victim].pid, signal.SIGKILL)
    assert procs[victim].wait(30) == -signal.SIGKILL
    survivors = set(procs) - {victim}
    wait_for(lambda: set(holders(client, names).values()) == survivors, DEADLINE_S,
             "the killed projector's shards moving to the others")
    wait_for(lambda: not client.exists(names.heartbeat("projector", victim)), DEADLINE_S,
             "the killed projector's heartbeat expiring (the dashboard stops listing it)")
    wait_for(lambda: applied() == len(first) + len(second), DEADLINE_S, "every event applied")

    for name in survivors:
        procs[name].send_signal(signal.SIGTERM)
    for name in survivors:
        code = procs[name].wait(60)
        assert code == 0, Path(procs[name].log_path).read_text()[-3000:]
    events = first + second
    assert counts() == expected(events)
    assert sum(ErrorHourly.objects.values_list("count", flat=True)) == sum(e.weight for e in events)
    for key in names.all_errors():
        assert client.xpending(key, GROUP_PROJECTOR)["pending"] == 0
    assert not any(client.exists(names.lease(i)) for i in range(SHARDS))
