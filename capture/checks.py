"""System checks: capture.E001... for wiring mistakes, each with a hint that says how to fix it."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from capture import conf
from contracts.config import ConfigError

MIDDLEWARE = "capture.middleware.ErrorCaptureMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"
HANDLERS = {
    "handler400": "capture.views.bad_request",
    "handler403": "capture.views.permission_denied",
    "handler404": "capture.views.page_not_found",
    "handler500": "capture.views.server_error",
}
CSRF_VIEW = "capture.views.csrf_failure"


def _dotted(value: Any) -> str:
    if isinstance(value, str):
        return value
    return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"


@register(Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list:
    """E001 missing, E002 placed inside CsrfViewMiddleware or before SecurityMiddleware."""
    chain = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in chain:
        return [Error(f"{MIDDLEWARE} is not in MIDDLEWARE.", hint=f"Add it right after {SECURITY}.", id="capture.E001")]
    index = chain.index(MIDDLEWARE)
    errors = []
    if CSRF in chain and chain.index(CSRF) < index:
        errors.append(Error(
            f"{MIDDLEWARE} comes after {CSRF}, so it cannot see CSRF rejections.",
            hint=f"Move it right after {SECURITY}.", id="capture.E002"))
    if SECURITY in chain and chain.index(SECURITY) > index:
        errors.append(Error(
            f"{MIDDLEWARE} comes before {SECURITY}.", hint=f"Move it right after {SECURITY}.", id="capture.E002"))
    return errors


@register(Tags.urls)
def check_handlers(app_configs: Any = None, **kwargs: Any) -> list:
    """W003 error handlers, W004 CSRF_FAILURE_VIEW not pointing at capture's friendly views."""
    out = []
    try:
        urlconf = import_module(settings.ROOT_URLCONF)
    except Exception:  # Django's own checks report a broken urlconf
        urlconf = None
    if urlconf is not None:
        for name, view in HANDLERS.items():
            if _dotted(getattr(urlconf, name, "")) != view:
                out.append(Warning(
                    f"{name} in {settings.ROOT_URLCONF} is not {view}: users will see another error page.",
                    hint=f'Set {name} = "{view}" in your root urls.py.', id="capture.W003"))
    if _dotted(getattr(settings, "CSRF_FAILURE_VIEW", "")) != CSRF_VIEW:
        out.append(Warning(
            "CSRF_FAILURE_VIEW is not capture's: CSRF failures show Django's page and lose their reason.",
            hint=f'Set CSRF_FAILURE_VIEW = "{CSRF_VIEW}".', id="capture.W004"))
    return out


@register(Tags.compatibility)
def check_config(app_configs: Any = None, **kwargs: Any) -> list:
    """E005 bad Redis URL, E006 a setting with an unusable value, E007 a URL a Redis Cluster cannot have."""
    try:
        cfg = conf.get()
    except ConfigError as exc:
        hint = "Fix the value in ERRORTRAIL or the environment."
        return [Error(f"errortrail settings: {exc}", hint=hint, id="capture.E006")]
    from redis.connection import parse_url

    try:
        options = parse_url(cfg["REDIS_URL"])
    except (ValueError, TypeError) as exc:
        return [Error(
            f"The errortrail Redis URL {cfg['REDIS_URL']!r} is not valid: {exc}",
            hint="Use redis://host:port/db (or rediss://, unix://) in ERRORTRAIL_REDIS_URL or REDIS_URL.",
            id="capture.E005")]
    if cfg["REDIS_CLUSTER"] and (options.get("path") or int(options.get("db") or 0) != 0):
        return [Error(
            "REDIS_CLUSTER is on but the errortrail Redis URL names a unix socket or a database other than 0.",
            hint="A Redis Cluster is reached over TCP and has only database 0: use redis://host:port/0 of any node.",
            id="capture.E007")]
    return []
