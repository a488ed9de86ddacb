"""Settings of the fault tests' processes: the test site on a private PostgreSQL, its own users in SQLite.

errortrail's tables (projector, bugbot) live in PostgreSQL; the site's users and sessions live in a separate
SQLite file, as on a site whose monitoring database is not its main one. So the dashboard still signs staff in
while PostgreSQL is down, and its health panel has to say so. Everything the test varies comes from the
environment (see tests/e2e/procs/stack.py).
"""

import os

from tests.settings import *  # noqa: F403  (the test site: apps, middleware, templates, urls)

SITE_APPS = {"auth", "contenttypes", "sessions", "admin"}


class SiteRouter:
    """The site's own apps go to the 'site' database; errortrail's to 'default'."""

    def db_for_read(self, model, **hints):
        return "site" if model._meta.app_label in SITE_APPS else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, **hints):
        return (db == "site") == (app_label in SITE_APPS)


DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": os.environ["E2E_PG_PORT"],
        "USER": "postgres",
        "NAME": os.environ.get("E2E_PG_DATABASE", "errortrail"),
        "OPTIONS": {"connect_timeout": 2},
    },
    "site": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["E2E_SITE_DB"],
        "OPTIONS": {"timeout": 30},
    },
}
DATABASE_ROUTERS = ["tests.e2e.procs.settings.SiteRouter"]

# Redis URL, spool directory, GitHub and the dashboard URL come from the environment (ERRORTRAIL_*, GITHUB_*).
ERRORTRAIL = {
    "RELEASE": "e2e",
    "ENVIRONMENT": "e2e",
    # Every occurrence is one event of weight 1 and stored as a sample (unless it arrives after a later minute's),
    # so error responses and counts compare one to one and samples can be traced to their responses.
    "COALESCE_FULL": 1_000_000,
    "MAX_EVENTS_PER_S": 1_000_000,
    "SAMPLES_PER_MINUTE": 1_000_000,
    "TICK_S": 0.2,
    "KNOWN_REFRESH_S": 0.5,
    "BREAKER_RESET_S": 0.5,
    "MAX_BUGS_PER_HOUR": 100,
    "MAX_BUGS_PER_DAY": 100,
    "GITHUB_THROTTLE": False,
    "GITHUB_TIMEOUT_S": 5.0,
    "GITHUB_MAX_WAIT_S": 5.0,
    "FILING_BACKOFF_S": float(os.environ.get("E2E_FILING_BACKOFF_S", "3")),
    "FILING_BACKOFF_MAX_S": 6.0,
    "RETRY_EVERY_S": 0.5,
    "BLOCK_MS": 500,
    "CLAIM_IDLE_MS": 5000,
    "CLAIM_EVERY_S": 2.0,
    "HEARTBEAT_TTL_S": 3,
    "PROJECTOR_BLOCK_MS": 500,
    "PROJECTOR_HEARTBEAT_S": 0.5,
    "PROJECTOR_LEASE_TTL_S": 3.0,
    "PROJECTOR_BACKOFF_MAX_S": 2.0,
    "PROJECTOR_CLAIM_IDLE_MS": 5000,
    "PROJECTOR_CLAIM_INTERVAL_S": 2.0,
}

LOGGING_CONFIG = "logging.config.dictConfig"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        name: {"handlers": ["console"], "level": "INFO", "propagate": False}
        for name in ("capture", "projector", "bugbot", "webui")
    }
    # The traffic's 500s are deliberate: their tracebacks would drown the logs (capture records them anyway).
    | {"django.request": {"handlers": ["console"], "level": "CRITICAL", "propagate": False}},
}
