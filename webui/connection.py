"""The dashboard's Redis client: short timeouts and no retries, so an unreachable Redis is a fault shown, not a wait."""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from projector import conf

SOCKET_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 0.5
ERRORS = (redis.RedisError, RedisClusterException, OSError)

_client: Any = None
_lock = threading.Lock()


def make_client(url: str, cluster: bool | None = None) -> Any:
    """A client (RedisCluster with REDIS_CLUSTER) that fails within a second when Redis is down or hangs."""
    options = dict(socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S,
                   retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
    if conf.get()["REDIS_CLUSTER"] if cluster is None else cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, health_check_interval=0, **options)


def client() -> Any:
    """The process's dashboard client (built on first use)."""
    global _client
    with _lock:
        if _client is None:
            _client = make_client(conf.get()["REDIS_URL"])
        return _client


def reset() -> None:
    """Forget the client (settings changed, tests)."""
    global _client
    with _lock:
        _client = None


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    if setting == "ERRORTRAIL":
        reset()
