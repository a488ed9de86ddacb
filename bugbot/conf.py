"""Bugbot's settings: one defaults list, read through a cached getter reset by setting_changed."""

from __future__ import annotations

import os
import re
import socket
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from contracts.config import ConfigError, Setting, resolve
from contracts.names import DEFAULT_PREFIX, Names

BACKENDS = ("auto", "github", "gh", "local")

SCAN_STEPS = (
    "projector.maintenance.resignal_missed",
    "projector.maintenance.prune",
    "projector.maintenance.trim_streams",
    "bugbot.scan.sync_issues",
    "bugbot.scan.retry_filings",
    "bugbot.scan.republish",
    "bugbot.scan.prune_deliveries",
)

SETTINGS = (
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis holding the streams and the known map.",
            env=("ERRORTRAIL_REDIS_URL", "REDIS_URL")),
    Setting("REDIS_CLUSTER", False, "REDIS_URL is a node of a Redis Cluster (shard keys are then always tagged).",
            env=("ERRORTRAIL_REDIS_CLUSTER",)),
    Setting("PREFIX", DEFAULT_PREFIX, "Prefix of every Redis key.", env=("ERRORTRAIL_PREFIX",)),
    Setting("BUG_BACKEND", "auto", "Tracker: github, gh, local, or auto (github when GITHUB_TOKEN and "
            "GITHUB_REPO are set, else local).", env=("ERRORTRAIL_BUG_BACKEND",)),
    Setting("GITHUB_REPO", "", "owner/name of the repository bugs are filed in.", env=("GITHUB_REPO",)),
    Setting("GITHUB_TOKEN", "", "Token allowed to create and edit that repository's issues.", env=("GITHUB_TOKEN",)),
    Setting("GITHUB_API_URL", "https://api.github.com", "GitHub REST API base (https://HOST/api/v3 for Enterprise).",
            env=("GITHUB_API_URL",)),
    Setting("GITHUB_WEBHOOK_SECRET", "", "Secret of the issues webhook (HMAC-SHA256); unset: deliveries are refused.",
            env=("GITHUB_WEBHOOK_SECRET",)),
    Setting("GITHUB_TIMEOUT_S", 15.0, "Timeout of one GitHub request, seconds.", minimum=0.1),
    Setting("GITHUB_READ_RETRIES", 3, "Retries of idempotent GitHub reads (creations are never retried blindly).",
            minimum=0),
    Setting("GITHUB_MAX_WAIT_S", 60.0, "Longest Retry-After / rate-limit reset waited for in place, seconds; "
            "longer waits reschedule the filing.", env=("ERRORTRAIL_GITHUB_MAX_WAIT_S",), minimum=0.0),
    Setting("GITHUB_THROTTLE", True, "Space GitHub requests as PyGithub does by default (off only for a stand-in)."),
    Setting("GH_PATH", "gh", "The gh binary (backend gh).", env=("ERRORTRAIL_GH_PATH",)),
    Setting("SEED_SCAN_MAX_ISSUES", 5000, "Most repository issues scanned for the highest B-NNN title.", minimum=0),
    Setting("BUG_PREFIX", "B", "Prefix of bug ids (B-001): a capital letter, then up to five capitals or digits."),
    Setting("LABELS", ("bug", "errortrail"), "Labels of filed issues.", env=("ERRORTRAIL_BUG_LABELS",)),
    Setting("MARKER_LABEL", "errortrail", "Label every filed issue carries; used to find an issue already made."),
    Setting("MAX_BUGS_PER_HOUR", 5, "Most new issues filed per hour.", env=("ERRORTRAIL_MAX_BUGS_PER_HOUR",),
            minimum=0),
    Setting("MAX_BUGS_PER_DAY", 20, "Most new issues filed per day.", env=("ERRORTRAIL_MAX_BUGS_PER_DAY",), minimum=0),
    Setting("SCAN_INTERVAL_MINUTES", 60, "Period of the Celery scan, minutes.", env=("ERROR_SCAN_INTERVAL_MINUTES",),
            minimum=1),
    Setting("SCAN_STEPS", SCAN_STEPS, "Dotted paths of the callables the periodic scan runs, in order.",
            env=("ERRORTRAIL_SCAN_STEPS",)),
    Setting("DASHBOARD_URL", "/errors/", "Base URL of the dashboard (absolute for links in issues).",
            env=("ERRORTRAIL_DASHBOARD_URL",)),
    Setting("DASHBOARD_PATTERN_PATH", "patterns/{fingerprint}/", "Dashboard path of a pattern, under DASHBOARD_URL."),
    Setting("DASHBOARD_KNOWN_PATH", "known/{bug_id}/", "Dashboard path of a known issue, under DASHBOARD_URL."),
    Setting("DEFAULT_MESSAGE", "", "Friendly message of automatically filed known issues (empty: the page's own).",
            env=("ERRORTRAIL_DEFAULT_MESSAGE",)),
    Setting("FILING_MAX_ATTEMPTS", 8, "Failed attempts before a filing is marked failed.", minimum=1),
    Setting("FILING_BACKOFF_S", 30.0, "First retry delay after a failed filing, seconds (doubles each time).",
            minimum=0.0),
    Setting("FILING_BACKOFF_MAX_S", 3600.0, "Longest retry delay, seconds.", minimum=0.0),
    Setting("FILING_LEASE_S", 600.0, "A filing claimed longer ago than this is taken over (its worker died).",
            minimum=0.0),
    Setting("CONSUMER", "", "Consumer name of run_bugbot (default: host name); stable across restarts, distinct "
            "per run_bugbot on one host.", env=("ERRORTRAIL_BUGBOT_CONSUMER", "ERRORTRAIL_CONSUMER")),
    Setting("BATCH_COUNT", 10, "Signals read per batch.", minimum=1),
    Setting("BLOCK_MS", 1000, "XREADGROUP block, milliseconds (below the Redis socket timeout).", minimum=1),
    Setting("CLAIM_IDLE_MS", 900_000, "Idle time after which another consumer's pending signal is claimed, ms "
            "(above the slowest batch, rate-limit waits included).", minimum=1000),
    Setting("CLAIM_EVERY_S", 30.0, "How often XAUTOCLAIM runs, seconds.", minimum=0.0),
    Setting("MAX_DELIVERIES", 5, "Deliveries after which a signal goes to the dead letters.", minimum=1),
    Setting("HEARTBEAT_TTL_S", 30, "TTL of the heartbeat key, seconds.", minimum=3),
    Setting("RETRY_EVERY_S", 30.0, "How often run_bugbot retries due filings, seconds.", minimum=0.0),
    Setting("SIGNALS_MAXLEN", 100_000, "Approximate cap on the signals stream's length (bug.* audit entries).",
            minimum=1000),
    Setting("DEAD_MAXLEN", 100_000, "Approximate cap on the signals dead-letter stream's length.", minimum=1000),
    Setting("DELIVERY_RETENTION_DAYS", 30, "Days webhook delivery ids are kept for deduplication.", minimum=1),
)

_NAMES = {s.name for s in SETTINGS}


@lru_cache(maxsize=1)
def get() -> MappingProxyType:
    """The resolved bugbot settings."""
    user = getattr(settings, "ERRORTRAIL", {}) or {}
    values = resolve(SETTINGS, user, os.environ)
    backend = values["BUG_BACKEND"].strip().lower() or "auto"
    if backend not in BACKENDS:
        raise ConfigError(f"BUG_BACKEND must be one of {', '.join(BACKENDS)}, not {backend[:20]!r}")
    if backend == "auto":
        backend = "github" if values["GITHUB_TOKEN"] and values["GITHUB_REPO"] else "local"
    values["BUG_BACKEND"] = backend
    if not re.fullmatch(r"[A-Z][A-Z0-9]{0,5}", values["BUG_PREFIX"]):
        raise ConfigError(f"BUG_PREFIX must be a capital letter and up to five capitals or digits, not "
                          f"{values['BUG_PREFIX'][:20]!r}")
    values["GITHUB_API_URL"] = values["GITHUB_API_URL"].rstrip("/")
    values["CONSUMER"] = values["CONSUMER"] or socket.gethostname() or "bugbot"
    if values["MARKER_LABEL"] and values["MARKER_LABEL"] not in values["LABELS"]:
        values["LABELS"] = (*values["LABELS"], values["MARKER_LABEL"])
    return MappingProxyType(values)


@lru_cache(maxsize=1)
def names() -> Names:
    """Redis names for the configured prefix."""
    return Names(prefix=get()["PREFIX"], cluster=get()["REDIS_CLUSTER"])


def known_setting_names() -> set[str]:
    """Keys of ERRORTRAIL that bugbot reads."""
    return set(_NAMES)


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    if setting == "ERRORTRAIL":
        get.cache_clear()
        names.cache_clear()
