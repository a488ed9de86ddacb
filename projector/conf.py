"""Projector settings: one defaults list, read through a cached getter reset by setting_changed."""

from __future__ import annotations

import os
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from contracts.config import Setting, resolve
from contracts.names import DEFAULT_PREFIX, Names

SETTINGS = (
    # Shared with capture and bugbot: same keys, same environment variables.
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis holding the streams and the known map.",
            env=("ERRORTRAIL_REDIS_URL", "REDIS_URL")),
    Setting("REDIS_CLUSTER", False, "REDIS_URL is a node of a Redis Cluster (shard keys are then always tagged).",
            env=("ERRORTRAIL_REDIS_CLUSTER",)),
    Setting("PREFIX", DEFAULT_PREFIX, "Prefix of every Redis key.", env=("ERRORTRAIL_PREFIX",)),
    Setting("SHARDS", 1, "Error stream shards (events go to a shard by fingerprint).",
            env=("ERRORTRAIL_SHARDS",), minimum=1),
    Setting("THRESHOLD", 3, "Occurrences after which a new pattern of a bug class signals bugbot.",
            env=("ERROR_AUTO_BUG_THRESHOLD",), minimum=1),
    Setting("BUG_CLASSES", ("app_error", "csrf", "broken_link"), "Error classes that file bugs.",
            env=("ERRORTRAIL_BUG_CLASSES",)),
    # The projections.
    Setting("DATABASE", "default", "Database alias of the projection tables (add projector.router.ProjectorRouter "
            "to DATABASE_ROUTERS when it is not 'default').", env=("ERRORTRAIL_DATABASE",)),
    Setting("SAMPLES_PER_MINUTE", 10, "Stored ErrorLog samples per pattern per minute of event time (counts stay exact).",
            env=("ERRORTRAIL_SAMPLES_PER_MINUTE",), minimum=0),
    Setting("DISTINCT_USERS_CAP", 1000, "Distinct users/clients counted exactly per pattern up to this cap ('N+').",
            minimum=1),
    Setting("SAMPLE_RETENTION_DAYS", 30, "Days ErrorLog samples are kept (the prune scan step).",
            env=("ERRORTRAIL_SAMPLE_RETENTION_DAYS",), minimum=1),
    Setting("HOURLY_RETENTION_DAYS", 400, "Days hourly counts are kept (the prune scan step).",
            env=("ERRORTRAIL_HOURLY_RETENTION_DAYS",), minimum=1),
    Setting("STREAM_RETENTION_DAYS", 7, "Days of consumed stream entries the trim step keeps for replay_errors.",
            env=("ERRORTRAIL_STREAM_RETENTION_DAYS",), minimum=0),
    Setting("PRUNE_BATCH", 10_000, "Rows deleted per statement by the prune scan step.", minimum=100),
    Setting("RESIGNAL_AFTER_S", 3600, "Re-send a crossed, still uncovered group's signal after this many seconds "
            "(0: only signals that were never sent).", minimum=0),
    Setting("RESIGNAL_MAX", 100, "Most signals one scan re-sends.", minimum=1),
    Setting("SIGNALS_MAXLEN", 100_000, "Approximate cap on the signals stream's length.", minimum=1000),
    # The consumer loop (run_projector).
    Setting("PROJECTOR_BATCH_COUNT", 5000, "Entries read per XREADGROUP (one transaction per batch).",
            env=("ERRORTRAIL_PROJECTOR_BATCH_COUNT",), minimum=1),
    Setting("PROJECTOR_BLOCK_MS", 1000, "XREADGROUP BLOCK, milliseconds (below PROJECTOR_SOCKET_TIMEOUT_S).",
            env=("ERRORTRAIL_PROJECTOR_BLOCK_MS",), minimum=1),
    Setting("PROJECTOR_SOCKET_TIMEOUT_S", 5.0, "The consumer's Redis socket timeout, seconds.",
            env=("ERRORTRAIL_PROJECTOR_SOCKET_TIMEOUT_S",), minimum=0.1),
    Setting("PROJECTOR_CLAIM_IDLE_MS", 60_000, "XAUTOCLAIM takes entries another consumer left pending this long.",
            env=("ERRORTRAIL_PROJECTOR_CLAIM_IDLE_MS",), minimum=1),
    Setting("PROJECTOR_CLAIM_INTERVAL_S", 30.0, "Seconds between XAUTOCLAIM sweeps.",
            env=("ERRORTRAIL_PROJECTOR_CLAIM_INTERVAL_S",), minimum=0.0),
    Setting("PROJECTOR_MAX_DELIVERIES", 5, "Deliveries after which an entry goes to the dead-letter stream.",
            env=("ERRORTRAIL_PROJECTOR_MAX_DELIVERIES",), minimum=1),
    Setting("PROJECTOR_LEASE_TTL_S", 10.0, "Lifetime of a shard lease; renewed every third of it.",
            env=("ERRORTRAIL_PROJECTOR_LEASE_TTL_S",), minimum=0.2),
    Setting("PROJECTOR_MAX_SHARDS", 0, "Most shards one run_projector holds (0: a fair share of the live projectors).",
            env=("ERRORTRAIL_PROJECTOR_MAX_SHARDS",), minimum=0),
    Setting("PROJECTOR_HEARTBEAT_S", 5.0, "Seconds between heartbeats (the key lives three times as long).",
            env=("ERRORTRAIL_PROJECTOR_HEARTBEAT_S",), minimum=0.1),
    Setting("PROJECTOR_PREFETCH", True, "Read and decode the next batch in a thread while one is written.",
            env=("ERRORTRAIL_PROJECTOR_PREFETCH",)),
    Setting("PROJECTOR_BACKOFF_MAX_S", 30.0, "Cap of the exponential backoff while Redis or the database fails.",
            env=("ERRORTRAIL_PROJECTOR_BACKOFF_MAX_S",), minimum=0.01),
)

_NAMES = {s.name for s in SETTINGS}


@lru_cache(maxsize=1)
def get() -> MappingProxyType:
    """The resolved projector settings."""
    user = getattr(settings, "ERRORTRAIL", {}) or {}
    return MappingProxyType(resolve(SETTINGS, user, os.environ))


@lru_cache(maxsize=1)
def names() -> Names:
    """Redis names for the configured prefix and shard count."""
    cfg = get()
    return Names(prefix=cfg["PREFIX"], shards=cfg["SHARDS"], cluster=cfg["REDIS_CLUSTER"])


def known_setting_names() -> set[str]:
    """Keys of ERRORTRAIL that the projector reads."""
    return set(_NAMES)


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    if setting == "ERRORTRAIL":
        get.cache_clear()
        names.cache_clear()
