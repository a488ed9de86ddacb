"""Baseline: a stock Django middleware stack, Django's own error pages, no monitoring."""

SECRET_KEY = "bench-only-secret-key-not-used-anywhere-else-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "bench.rig.app"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# Django logs every 4xx/5xx on django.request; the same silent handler in every configuration keeps that equal.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}, "stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["null"], "propagate": False},
        "capture": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
