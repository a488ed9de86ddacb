"""run_projector for the storm: the bench's private Redis and its dedicated PostgreSQL database."""

import os

SECRET_KEY = "bench-only-secret-key-not-used-anywhere-else-0123456789"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["projector"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("BENCH_PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("BENCH_PGPORT", "5432"),
        "USER": os.environ.get("BENCH_PGUSER", "postgres"),
        "NAME": os.environ.get("BENCH_DB_NAME", "errortrail_storm"),
    }
}
ERRORTRAIL = {
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "PREFIX": os.environ.get("BENCH_PREFIX", "errortrail-bench-storm:"),
    "PROJECTOR_BLOCK_MS": 200,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
