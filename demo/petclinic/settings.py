"""Settings of the Paws & Claws demo site, read from the environment (see demo/README.md)."""

import os
from pathlib import Path

from demo.petclinic.env import database, env_bool, env_list

DEMO_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEMO_VAR_DIR") or DEMO_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file and the spool live here

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "paws-and-claws-demo-only-key-7f3e9b1c5a2d8e4f6a0b9c3d"
DEBUG = env_bool(os.environ, "DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list(os.environ, "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list(os.environ, "DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Production deployments behind HTTPS turn these on with DJANGO_SECURE=1; the local demo speaks plain HTTP.
_SECURE = env_bool(os.environ, "DJANGO_SECURE", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = _SECURE
SECURE_HSTS_SECONDS = 3600 if _SECURE else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _SECURE else None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "demo.clinic",
]
INSTALLED_APPS += ["capture", "projector", "bugbot", "webui"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "capture.middleware.ErrorCaptureMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
CSRF_FAILURE_VIEW = "capture.views.csrf_failure"

ROOT_URLCONF = "demo.petclinic.urls"
WSGI_APPLICATION = "demo.petclinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database(os.environ, VAR_DIR / "clinic.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The site, run_projector, run_bugbot and Celery write to one file: WAL, a busy timeout, and writers
    # that take the lock when their transaction begins (never a read lock upgraded mid-way).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
LOGIN_URL = "/admin/login/"  # the dashboard sends anonymous visitors here
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or VAR_DIR / "static")

# The friendly error pages extend the site's own base template, so they look like the site.
ERRORTRAIL = {
    "BASE_TEMPLATE": "clinic/error_base.html",
    "SITE_NAME": "Paws & Claws clinic",
    "RELEASE": os.environ.get("ERRORTRAIL_RELEASE", "demo"),
    "ENVIRONMENT": os.environ.get("ERRORTRAIL_ENVIRONMENT", "demo"),
    "SPOOL_DIR": os.environ.get("ERRORTRAIL_SPOOL_DIR") or str(VAR_DIR / "spool"),
}

# Celery (`celery -A bugbot.celery`): the broker defaults to errortrail's Redis, with the keys under its prefix.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ.get("ERRORTRAIL_PREFIX", "errortrail:") + "celery:"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Django's own loggers print exception messages and paths: scrub them like capture scrubs events.
    "filters": {"scrub": {"()": "capture.logfilter.ScrubFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["scrub"]}},
    "loggers": {
        name: {"handlers": ["console"], "level": os.environ.get("ERRORTRAIL_LOG_LEVEL", "INFO"), "propagate": False}
        for name in ("capture", "projector", "bugbot", "webui")
    }
    | {"django.request": {"handlers": ["console"], "level": "ERROR"}},  # tracebacks of 500s on the console
}
