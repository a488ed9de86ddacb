"""Fixtures for tests on a real Redis Cluster: the cluster (one per module) and settings pointing at it."""

from __future__ import annotations

import uuid

import pytest

from tests.cluster_support.cluster import NodeExited, RedisClusterRig, missing_binaries
from tests.conftest import service_missing


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory):
    """A fresh three-node cluster for the module (skips locally, fails under CI, without redis-server/redis-cli)."""
    problem = missing_binaries()
    if problem:
        service_missing("Redis Cluster", problem)
    for attempt in range(3):  # another process may take a port between the check and redis-server's bind
        rig = RedisClusterRig(tmp_path_factory.mktemp("redis-cluster"))
        try:
            rig.start()
            break
        except NodeExited:
            rig.stop()
            if attempt == 2:
                raise
        except BaseException:
            rig.stop()
            raise
    try:
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def on_cluster(settings, redis_cluster, tmp_path):
    """ERRORTRAIL pointed at the cluster under a unique prefix (6 shards); every app's client rebuilt."""
    from bugbot import connection as bugbot_connection
    from capture import publish
    from webui import connection as webui_connection

    prefix = f"et-{uuid.uuid4().hex[:8]}:"
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": redis_cluster.url, "REDIS_CLUSTER": True,
                           "PREFIX": prefix, "SHARDS": 6, "SPOOL_DIR": str(tmp_path / "spool")}
    for module in (publish, bugbot_connection, webui_connection):
        module.reset()
    client = redis_cluster.client()
    yield client
    for module in (publish, bugbot_connection, webui_connection):
        module.reset()
    client.close()
