"""Friendly error pages for handler400/403/404/500 and CSRF_FAILURE_VIEW; no database, no Redis."""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views import csrf as django_csrf

from capture import conf
from capture.build import host_of
from capture.frames import current_exc_info
from capture.middleware import FRIENDLY_ATTR, internal_error, observation_for


TEMPLATE = "errortrail/error.html"

PAGES: dict[str, dict[str, Any]] = {
    "bad_request": {
        "status": 400,
        "title": "That request didn't work",
        "message": "We couldn't understand that request. Please go back and try again.",
    },
    "permission_denied": {
        "status": 403,
        "title": "You don't have access to this page",
        "message": "This page needs permissions your account doesn't have. "
        "If you think it should, sign in with another account or contact us.",
    },
    "page_not_found": {
        "status": 404,
        "title": "We can't find that page",
        "message": "The page may have moved, or the link may be mistyped. "
        "Try the home page, or go back to where you were.",
    },
    "server_error": {
        "status": 500,
        "title": "Something went wrong",
        "message": "Something went wrong on our side, and we've been notified. "
        "Please try again in a few minutes.",
    },
    "csrf_failure": {
        "status": 403,
        "title": "This form has expired",
        "message": "For your security, forms stop working after a while, or when cookies are blocked. "
        "Go back, reload the page, and submit the form again. Nothing was saved.",
    },
}
KNOWN_TITLE = "We're aware of this problem"
KNOWN_MESSAGE = "We're aware of this problem and working on it."
_ACCEPT_CHARS = 1024


def _friendly(cfg: Any) -> bool:
    return not settings.DEBUG or cfg["FRIENDLY_IN_DEBUG"]


def _back_url(request: HttpRequest) -> str | None:
    referer = request.META.get("HTTP_REFERER")
    host, disallowed = host_of(request)
    if not referer or disallowed or not host:
        return None
    if url_has_allowed_host_and_scheme(referer, allowed_hosts={host}, require_https=request.is_secure()):
        return referer
    return None


def _wants_json(request: HttpRequest, cfg: Any) -> bool:
    if any(request.path.startswith(prefix) for prefix in cfg["API_PREFIXES"]):
        return True
    accept = request.META.get("HTTP_ACCEPT", "")
    if "json" not in accept[:_ACCEPT_CHARS]:
        return False
    if len(accept) > _ACCEPT_CHARS:  # Django would parse every media type of it (40 MB for an 800 KB header)
        return "html" not in accept[:_ACCEPT_CHARS]
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def page_context(kind: str, request: HttpRequest, cfg: Any, obs: Any) -> dict[str, Any]:
    """Everything the friendly template and the JSON body show."""
    page = PAGES[kind]
    known = getattr(obs, "known", None)
    host, disallowed = host_of(request)
    ctx: dict[str, Any] = {
        "kind": kind,
        "status": page["status"],
        "title": page["title"],
        "message": page["message"],
        "reference": getattr(obs, "event_id", None),
        "known": None,
        "home_url": "/",
        "back_url": _back_url(request),
        "site_name": cfg["SITE_NAME"] or ("" if disallowed else host or ""),
        "base_template": cfg["BASE_TEMPLATE"],
    }
    if known is not None:
        url = known.url if cfg["SHOW_ISSUE_LINKS"] and known.url.startswith(("https://", "http://", "/")) else ""
        ctx["title"] = KNOWN_TITLE
        ctx["message"] = KNOWN_MESSAGE
        ctx["known"] = {"bug_id": known.bug_id, "url": url, "message": known.message}
    return ctx


def _json(ctx: dict[str, Any]) -> HttpResponse:
    body: dict[str, Any] = {
        "status": ctx["status"],
        "code": ctx["kind"],
        "title": ctx["title"],
        "message": ctx["message"],
        "reference": ctx["reference"],
    }
    if ctx["known"]:
        body["known_issue"] = ctx["known"]
    return HttpResponse(orjson.dumps({"error": body}), status=ctx["status"], content_type="application/json")


def _fallback(status: int, title: str) -> HttpResponse:
    return HttpResponse(
        f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
        '<p><a href="/">Go to the home page</a></p>',
        status=status,
        content_type="text/html; charset=utf-8",
    )


# Pages are rendered once per (kind, known issue, ...) with stand-ins for the per-request values, which are
# then substituted: a template render costs ~80 µs, the substitution ~1 µs. Stand-ins need no escaping.
_REF = "ErrortrailReferenceStandIn"
_BACK = "https://errortrail.invalid/BackLinkStandIn"
_PAGES_CACHED: dict[tuple, str] = {}
_CACHE_SIZE = 512


def _html(ctx: dict[str, Any], cfg: Any) -> str:
    reference, back_url = ctx["reference"], ctx["back_url"]
    if settings.DEBUG or not cfg["PAGE_CACHE"]:
        return loader.get_template(TEMPLATE).render(ctx)
    known = ctx["known"]
    key = (
        ctx["kind"], ctx["title"], ctx["message"], tuple(known.values()) if known else None,
        bool(reference), bool(back_url), ctx["site_name"], ctx["base_template"], ctx["home_url"],
    )
    html = _PAGES_CACHED.get(key)
    if html is None:
        stand_ins = {**ctx, "reference": _REF if reference else None, "back_url": _BACK if back_url else None}
        html = loader.get_template(TEMPLATE).render(stand_ins)
        if len(_PAGES_CACHED) >= _CACHE_SIZE:
            _PAGES_CACHED.clear()
        _PAGES_CACHED[key] = html
    if reference:
        html = html.replace(_REF, escape(reference))
    if back_url:
        html = html.replace(_BACK, escape(back_url))
    return html


@receiver(setting_changed)
def _forget_pages(**kwargs: Any) -> None:
    _PAGES_CACHED.clear()


def render_friendly(kind: str, request: HttpRequest, obs: Any, cfg: Any) -> HttpResponse:
    """The friendly page (or JSON body) for an observation; falls back to plain HTML rather than raise."""
    page = PAGES[kind]
    try:
        ctx = page_context(kind, request, cfg, obs)
        if _wants_json(request, cfg):
            response = _json(ctx)
        else:
            response = HttpResponse(_html(ctx, cfg), status=page["status"], content_type="text/html; charset=utf-8")
    except Exception:
        internal_error(f"render the {kind} page")
        response = _fallback(page["status"], page["title"])
    setattr(response, FRIENDLY_ATTR, True)
    return response


def _observe(request: HttpRequest, status: int, cfg: Any, csrf_reason: str | None = None, exc_info: Any = None) -> Any:
    if not cfg["ENABLED"]:
        return None
    try:
        return observation_for(request, status, csrf_reason=csrf_reason, exc_info=exc_info)
    except Exception:
        internal_error("observe an error")
        return None


def bad_request(
    request: HttpRequest, exception: Exception | None = None, template_name: str = "400.html"
) -> HttpResponse:
    """handler400."""
    cfg = conf.safe()
    obs = _observe(request, 400, cfg)
    if not _friendly(cfg):
        return defaults.bad_request(request, exception)
    return render_friendly("bad_request", request, obs, cfg)


def permission_denied(
    request: HttpRequest, exception: Exception | None = None, template_name: str = "403.html"
) -> HttpResponse:
    """handler403."""
    cfg = conf.safe()
    obs = _observe(request, 403, cfg)
    if not _friendly(cfg):
        return defaults.permission_denied(request, exception or PermissionDenied())
    return render_friendly("permission_denied", request, obs, cfg)


def page_not_found(
    request: HttpRequest, exception: Exception | None = None, template_name: str = "404.html"
) -> HttpResponse:
    """handler404."""
    cfg = conf.safe()
    obs = _observe(request, 404, cfg)
    if not _friendly(cfg):
        return defaults.page_not_found(request, exception or Exception())
    return render_friendly("page_not_found", request, obs, cfg)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500 (Django calls it while the exception is being handled)."""
    cfg = conf.safe()
    obs = _observe(request, 500, cfg, exc_info=current_exc_info())
    if not _friendly(cfg):
        return defaults.server_error(request)
    return render_friendly("server_error", request, obs, cfg)


def csrf_failure(request: HttpRequest, reason: str = "", template_name: str = "403_csrf.html") -> HttpResponse:
    """CSRF_FAILURE_VIEW: records Django's reason, explains that the form expired."""
    cfg = conf.safe()
    obs = _observe(request, 403, cfg, csrf_reason=reason or "")
    if not _friendly(cfg):
        return django_csrf.csrf_failure(request, reason)
    return render_friendly("csrf_failure", request, obs, cfg)
