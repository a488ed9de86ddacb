"""The dashboard's Redis client: short timeouts and no retries, so an unreachable Redis is a fault shown, not a wait."""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.exceptions import RedisClusterException

from bugbot.connection import make_client as make_bugbot_client
from projector import conf

SOCKET_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 0.5
ERRORS = (redis.RedisError, RedisClusterException, OSError)

_client: Any = None
_lock = threading.Lock()


def make_client(url: str, cluster: bool | None = None) -> Any:
    """A client (RedisCluster with REDIS_CLUSTER) that fails within a second when Redis is down or hangs."""
    if cluster is None:
        cluster = conf.get()["REDIS_CLUSTER"]
    return make_bugbot_client(url, cluster, SOCKET_TIMEOUT_S, CONNECT_TIMEOUT_S, health_check_s=0)


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
