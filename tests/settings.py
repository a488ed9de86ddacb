"""Settings of the test site: SQLite by default, PostgreSQL when ERRORTRAIL_TEST_DB=postgres."""

import os
import tempfile

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "tests-only-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "site.test"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "capture",
    "projector",
    "bugbot",
    "webui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "capture.middleware.ErrorCaptureMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
CSRF_FAILURE_VIEW = "capture.views.csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(BASE_DIR, "site", "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
LOGIN_URL = "/admin/login/"

if os.environ.get("ERRORTRAIL_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("ERRORTRAIL_TEST_PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("ERRORTRAIL_TEST_PGPORT", "5432"),
            "USER": os.environ.get("ERRORTRAIL_TEST_PGUSER", "postgres"),
            "NAME": os.environ.get("ERRORTRAIL_TEST_PGDATABASE", "test"),
            "OPTIONS": {"connect_timeout": 3},
            # One test database per pytest process, so parallel runs on one server never collide.
            "TEST": {"NAME": os.environ.get("ERRORTRAIL_TEST_PGNAME", f"errortrail_test_{os.getpid()}")},
        }
    }
else:
    # ERRORTRAIL_TEST_SQLITE_PATH: a consumer subprocess opens the test process's database file.
    _SQLITE = os.environ.get("ERRORTRAIL_TEST_SQLITE_PATH") or os.path.join(
        tempfile.gettempdir(), f"errortrail-test-{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _SQLITE,
            "TEST": {"NAME": _SQLITE},
        }
    }

ERRORTRAIL = {
    "BACKGROUND": False,
    "REPORT_INTERNAL_ERRORS": True,
    # Every occurrence in full unless a test asks for storm coalescing (tests/component/test_capture_storm.py).
    "COALESCE_FULL": 1_000_000,
    "MAX_EVENTS_PER_S": 1_000_000,
    "RELEASE": "tests",
    "ENVIRONMENT": "test",
    "SPOOL_DIR": os.path.join(tempfile.gettempdir(), f"errortrail-test-spool-{os.getpid()}"),
}

LOGGING_CONFIG = None
