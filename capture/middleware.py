"""ErrorCaptureMiddleware: reports every response >= 400 once; nothing at all for healthy responses."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponseBase
from django.http.multipartparser import MultiPartParserError

from capture import conf
from capture.build import Observation, host_of, observe, to_event
from capture.frames import current_exc_info
from capture.publish import get_publisher

log = logging.getLogger(__name__)

OBSERVATION_ATTR = "_errortrail_observation"
EXC_ATTR = "_errortrail_exc_info"
DONE_ATTR = "_errortrail_reported"
DEBUG_PAGE_ATTR = "_errortrail_debug_page"
FRIENDLY_ATTR = "_errortrail_friendly"


@receiver(got_request_exception)
def _remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Keep the unhandled exception for the response hook (any layer, DEBUG or not)."""
    if request is not None:
        request.__dict__[EXC_ATTR] = current_exc_info()


def internal_error(what: str) -> None:
    """Log and count a failure inside capture; re-raise it only when REPORT_INTERNAL_ERRORS is set (tests)."""
    log.exception("errortrail could not %s", what)
    if conf.safe()["REPORT_INTERNAL_ERRORS"]:
        raise
    try:
        get_publisher().count(conf.names().drops, "internal")
    except Exception:  # pragma: no cover - nothing left to do
        pass


def observation_for(
    request: HttpRequest, status: int, csrf_reason: str | None = None, exc_info: Any = None
) -> Observation:
    """The request's observation, made once and shared by the friendly view and the middleware."""
    obs = request.__dict__.get(OBSERVATION_ATTR)
    if obs is not None and obs.status == status:
        return obs
    if exc_info is None:
        exc_info = request.__dict__.get(EXC_ATTR) or (current_exc_info() if status >= 500 else None)
    obs = observe(request, status, conf.safe(), exc_info=exc_info, csrf_reason=csrf_reason)
    publisher = get_publisher()
    if not publisher.known.loaded and publisher.breaker.allow():
        _load_known(publisher)
    obs.known = publisher.known.match(obs.fingerprint, obs.error_type, request.path)
    request.__dict__[OBSERVATION_ATTR] = obs
    return obs


def _load_known(publisher: Any) -> None:
    # Once per process when no background thread loaded it yet, so a fresh worker never shows a stale page.
    try:
        publisher.known.refresh(publisher.client, publisher.names)
        publisher.breaker.success()
    except Exception as exc:
        publisher.breaker.failure()
        log.warning("errortrail could not load the known-issue map: %s", exc)


def report(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Observe an error response (once per request) and deliver its event when the response is closed."""
    if request.__dict__.get(DONE_ATTR):
        return response
    request.__dict__[DONE_ATTR] = True
    try:
        cfg = conf.safe()
        obs = None
        if cfg["ENABLED"]:
            obs = observation_for(request, response.status_code)
            response.headers.setdefault("X-Error-Reference", obs.event_id)
        response = _debug_friendly(request, response, cfg)
        if obs is not None:
            _deliver_on_close(request, response, obs, cfg)
        return response
    except Exception:
        internal_error("report an error response")
        return response


def deliver(request: HttpRequest, obs: Observation, cfg: Any) -> None:
    """Publish the occurrence (full, or folded into its pattern's weighted event during a storm)."""
    try:
        get_publisher().hold_or_send(obs, request, lambda: to_event(obs, request, cfg))
    except Exception:
        internal_error("report an error response")
    finally:
        # The traceback holds frames whose locals hold the request: break that cycle now so the
        # request is freed by reference counting instead of waiting for a full garbage collection.
        request.__dict__.pop(EXC_ATTR, None)
        obs.kept = []


def _deliver_on_close(request: HttpRequest, response: HttpResponseBase, obs: Observation, cfg: Any) -> None:
    # The server calls close() once the response is sent (WSGI and Django's ASGI handler alike), so the
    # event's building and its Redis round trip never delay the answer. Exceptions raised here reach the
    # caller of close() only when REPORT_INTERNAL_ERRORS is set (tests).
    original = response.close

    def close() -> None:
        try:
            deliver(request, obs, cfg)
        finally:
            original()

    response.close = close  # type: ignore[method-assign]


def _exception_page(exc: BaseException) -> str:
    """The friendly page Django's handler would have chosen for an exception (see response_for_exception)."""
    if isinstance(exc, Http404):
        return "page_not_found"
    if isinstance(exc, PermissionDenied):
        return "permission_denied"
    if isinstance(exc, (MultiPartParserError, BadRequest, SuspiciousOperation)):
        return "bad_request"
    return "server_error"


def _debug_friendly(request: HttpRequest, response: HttpResponseBase, cfg: Any) -> HttpResponseBase:
    """With DEBUG and FRIENDLY_IN_DEBUG, swap Django's technical page of an exception for the friendly one."""
    if not (settings.DEBUG and cfg["FRIENDLY_IN_DEBUG"]) or getattr(response, FRIENDLY_ATTR, False):
        return response
    kind = request.__dict__.get(DEBUG_PAGE_ATTR)
    if kind is None and response.status_code == 404 and getattr(request, "resolver_match", None) is None:
        kind = "page_not_found"  # no URL matched
    elif kind is None and response.status_code == 400 and host_of(request)[1]:
        kind = "bad_request"  # DisallowedHost raised by a middleware
    from capture.views import PAGES, render_friendly

    if kind is None or PAGES[kind]["status"] != response.status_code:
        return response
    obs = request.__dict__.get(OBSERVATION_ATTR) if cfg["ENABLED"] else None
    return render_friendly(kind, request, obs, cfg)


class ErrorCaptureMiddleware:
    """Place right after SecurityMiddleware so CSRF rejections and every other error pass through it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        try:
            if conf.safe()["ENABLED"]:
                get_publisher()  # starts the background thread: the known map loads before the first error
        except Exception:
            log.exception("errortrail could not start")

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        response = self.get_response(request)
        if response.status_code >= 400:
            response = report(request, response)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        response = await self.get_response(request)
        if response.status_code >= 400:
            response = await sync_to_async(report, thread_sensitive=False)(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Note which friendly page a view's exception maps to (used only with DEBUG and FRIENDLY_IN_DEBUG)."""
        if settings.DEBUG:
            request.__dict__[DEBUG_PAGE_ATTR] = _exception_page(exception)
