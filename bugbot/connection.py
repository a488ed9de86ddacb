"""Bugbot's Redis client (one per process, reset when settings change) and its stream writes."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from bugbot import conf
from contracts import codec
from contracts.names import EVENT_FIELD

log = logging.getLogger(__name__)

_client: Any = None
_lock = threading.Lock()


def make_client(
    url: str, cluster: bool | None = None, timeout_s: float = 10, connect_timeout_s: float = 3, health_check_s: int = 30
) -> Any:
    """A Redis client (RedisCluster with REDIS_CLUSTER) with timeouts above XREADGROUP's block and no retries."""
    # redis-py's default retries re-send a blocking XREADGROUP ten times: the loop backs off by itself.
    options = dict(socket_timeout=timeout_s, socket_connect_timeout=connect_timeout_s, retry=Retry(NoBackoff(), 0),
                   retry_on_timeout=False)
    if conf.get()["REDIS_CLUSTER"] if cluster is None else cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, health_check_interval=health_check_s, **options)


def client() -> Any:
    """The process's Redis client."""
    global _client
    with _lock:
        if _client is None:
            _client = make_client(conf.get()["REDIS_URL"])
        return _client


def reset() -> None:
    """Forget the client (tests, settings changes)."""
    global _client
    with _lock:
        _client = None


def emit(event: Any) -> bool:
    """Append a bug.* event to the signals stream (the audit trail); False, logged, when Redis refuses."""
    try:
        client().xadd(conf.names().signals, {EVENT_FIELD: codec.encode(event)}, maxlen=conf.get()["SIGNALS_MAXLEN"],
                      approximate=True)
        return True
    except (redis.RedisError, RedisClusterException, OSError, codec.ContractError) as exc:
        log.warning("bugbot: could not record %s: %s", event.TYPE, exc)
        return False


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    if setting == "ERRORTRAIL":
        reset()
