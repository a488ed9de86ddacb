"""Capture's settings: one defaults list, read through a cached getter reset by setting_changed."""

from __future__ import annotations

import logging
import os
import tempfile
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from contracts.config import ConfigError, Setting, resolve
from contracts.names import DEFAULT_PREFIX, Names

SCRUB_KEYS = (
    "password", "passwd", "pwd", "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key",
    "auth", "session", "cookie", "csrf", "xsrf", "signature", "card", "cvv", "cvc", "iban", "ssn",
    "private", "credential",
)
HEADER_ALLOWLIST = (
    "User-Agent", "Referer", "Accept", "Accept-Language", "Accept-Encoding", "Content-Type",
    "Content-Length", "Origin", "X-Requested-With", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest",
)
PROBE_PATTERNS = (
    r"\.(php\d?|asp|aspx|jsp|cgi|env|ini|bak|old|sql|swp|git|svn|htaccess|htpasswd|DS_Store)(/|$)",
    r"(^|/)wp-[^/]*", r"(^|/)cgi-bin(/|$)", r"(^|/)\.(git|svn|hg|env|aws|ssh|docker)(/|$)",
    r"(^|/)(phpmyadmin|pma|myadmin|xmlrpc|vendor/phpunit|actuator|boaform|HNAP1|owa|solr|manager/html)(/|$)",
)
QUIET_404_PATTERNS = (
    r"(^|/)favicon\.ico$", r"(^|/)apple-touch-icon[^/]*\.png$", r"^/robots\.txt$", r"^/\.well-known/",
    r"(^|/)browserconfig\.xml$", r"(^|/)(site\.webmanifest|manifest\.json)$",
)
CRAWLER_AGENTS = (
    "sqlmap", "nikto", "nmap", "masscan", "zgrab", "nuclei", "wpscan", "dirbuster", "gobuster", "feroxbuster",
    "ffuf", "acunetix", "netsparker", "censysinspect", "expanse", "bot", "crawler", "spider", "scrapy",
)

SETTINGS = (
    Setting("ENABLED", True, "Capture errors at all.", env=("ERROR_MONITORING_ENABLED",)),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis holding the streams and the known map.",
            env=("ERRORTRAIL_REDIS_URL", "REDIS_URL")),
    Setting("REDIS_CLUSTER", False, "REDIS_URL is a node of a Redis Cluster (shard keys are then always tagged).",
            env=("ERRORTRAIL_REDIS_CLUSTER",)),
    Setting("PREFIX", DEFAULT_PREFIX, "Prefix of every Redis key.", env=("ERRORTRAIL_PREFIX",)),
    Setting("SHARDS", 1, "Error stream shards (events go to a shard by fingerprint).",
            env=("ERRORTRAIL_SHARDS",), minimum=1),
    Setting("RELEASE", "", "Release recorded with each event.", env=("ERRORTRAIL_RELEASE",)),
    Setting("ENVIRONMENT", "production", "Environment recorded with each event.", env=("ERRORTRAIL_ENVIRONMENT",)),
    Setting("STREAM_MAXLEN", 1_000_000, "Approximate cap on each error stream's length (MAXLEN ~).",
            env=("ERRORTRAIL_STREAM_MAXLEN",), minimum=1000),
    Setting("CONNECT_TIMEOUT_S", 0.1, "Capture's Redis connect timeout, seconds.", minimum=0.001),
    Setting("SOCKET_TIMEOUT_S", 0.1, "Capture's Redis read/write timeout, seconds.", minimum=0.001),
    Setting("BREAKER_FAILURES", 3, "Consecutive Redis failures that open the circuit breaker.", minimum=1),
    Setting("BREAKER_RESET_S", 5.0, "Seconds the breaker stays open before one trial call.", minimum=0.0),
    Setting("SPOOL_DIR", os.path.join(tempfile.gettempdir(), "errortrail-spool"),
            "Directory of the local spool used while Redis is unreachable.", env=("ERRORTRAIL_SPOOL_DIR",)),
    Setting("SPOOL_MAX_BYTES", 64 * 1024 * 1024, "Total size of the spool; events beyond it are dropped (counted).",
            minimum=0),
    Setting("BACKGROUND", True, "Run the per-process background thread (spool flush, known-map refresh)."),
    Setting("TICK_S", 1.0, "Background thread period, seconds.", minimum=0.01),
    Setting("KNOWN_REFRESH_S", 2.0, "Check the known-issue map's version at least this often, seconds.",
            minimum=0.0),
    Setting("COALESCE_WINDOW_S", 1.0, "Repeats of one pattern within this window fold into one weighted event.",
            env=("ERRORTRAIL_COALESCE_WINDOW_S",), minimum=0.01),
    Setting("COALESCE_FULL", 3, "Occurrences per pattern and window sent with their full payload.", minimum=1),
    Setting("MAX_EVENTS_PER_S", 100, "Full events per second per process; beyond it only weighted counts are sent.",
            env=("ERRORTRAIL_MAX_EVENTS_PER_S",), minimum=1),
    Setting("COALESCE_MAX_KEYS", 10000, "Patterns tracked per window before every window is flushed early.",
            minimum=1),
    Setting("MAX_BODY_BYTES", 8192, "Largest request body read into an event (never a streamed upload).",
            minimum=0),
    Setting("MAX_STRING", 1024, "Longest string kept in request data.", minimum=16),
    Setting("MAX_DEPTH", 5, "Deepest nesting kept in request data.", minimum=1),
    Setting("MAX_ITEMS", 50, "Most keys or items kept per mapping or list.", minimum=1),
    Setting("MAX_FRAMES", 30, "Most in-app frames kept for a 5xx.", minimum=1),
    Setting("FRAME_VARS", True, "Keep (scrubbed, bounded) local variables of in-app frames."),
    Setting("IN_APP_EXCLUDE", ("django", "asgiref", "gunicorn", "uvicorn", "capture", "celery", "redis"),
            "Module prefixes that are never in-app frames."),
    Setting("SCRUB_KEYS", SCRUB_KEYS, "Key substrings (case-insensitive) whose values are always scrubbed."),
    Setting("EXTRA_SCRUB_KEYS", (), "More key substrings to scrub, added to SCRUB_KEYS.",
            env=("ERRORTRAIL_SCRUB_KEYS",)),
    Setting("HEADER_ALLOWLIST", HEADER_ALLOWLIST, "Request headers kept in events."),
    Setting("PROBE_PATTERNS", PROBE_PATTERNS, "Regexes of scanner paths (class probe)."),
    Setting("QUIET_404_PATTERNS", QUIET_404_PATTERNS,
            "Regexes of paths browsers fetch by themselves: their 404s are not_found, never broken_link."),
    Setting("CRAWLER_AGENTS", CRAWLER_AGENTS, "User-agent substrings of scanners and crawlers (class probe)."),
    Setting("API_PREFIXES", ("/api/",), "Path prefixes answered with JSON error bodies."),
    Setting("SHOW_ISSUE_LINKS", True, "Link known issues' tracker URLs on error pages (off for private repos).",
            env=("ERRORTRAIL_SHOW_ISSUE_LINKS",)),
    Setting("FRIENDLY_IN_DEBUG", False, "Serve friendly pages even when DEBUG is on."),
    Setting("PAGE_CACHE", True, "Render each friendly page once and substitute per-request values (off with DEBUG)."),
    Setting("BASE_TEMPLATE", "errortrail/base.html", "Template the friendly pages extend."),
    Setting("SITE_NAME", "", "Site name shown on friendly pages (defaults to the host)."),
    Setting("REPORT_INTERNAL_ERRORS", False, "Re-raise capture's own errors (tests set this)."),
)

_NAMES = {s.name for s in SETTINGS}
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def get() -> MappingProxyType:
    """The resolved capture settings."""
    user = getattr(settings, "ERRORTRAIL", {}) or {}
    values = resolve(SETTINGS, user, os.environ)
    values["SCRUB_KEYS"] = tuple(k.lower() for k in (*values["SCRUB_KEYS"], *values["EXTRA_SCRUB_KEYS"]))
    try:
        Names(prefix=values["PREFIX"], shards=values["SHARDS"], cluster=values["REDIS_CLUSTER"])
    except ValueError as exc:
        raise ConfigError(f"ERRORTRAIL PREFIX/SHARDS: {exc}") from None
    return MappingProxyType(values)


@lru_cache(maxsize=1)
def safe() -> MappingProxyType:
    """The settings, or when they are unusable the defaults with capture off (the system checks say why)."""
    try:
        return get()
    except ConfigError as exc:
        log.error("errortrail is off: %s", exc)
        values = resolve(SETTINGS, {}, {})
        values["ENABLED"] = False
        return MappingProxyType(values)


@lru_cache(maxsize=1)
def names() -> Names:
    """Redis names for the configured prefix and shard count."""
    cfg = get()
    return Names(prefix=cfg["PREFIX"], shards=cfg["SHARDS"], cluster=cfg["REDIS_CLUSTER"])


def known_setting_names() -> set[str]:
    """Keys of ERRORTRAIL that capture reads."""
    return set(_NAMES)


@receiver(setting_changed)
def _reset(setting: str, **kwargs: Any) -> None:
    if setting in ("ERRORTRAIL", "DEBUG"):
        get.cache_clear()
        safe.cache_clear()
        names.cache_clear()
