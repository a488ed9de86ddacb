"""ErrorCaptureMiddleware: reports every response >= 400 once; nothing at all for healthy responses."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from capture import conf
from capture.build import Observation, current_exc_info, observe, to_event
from capture.publish import get_publisher

log = logging.getLogger(__name__)

OBSERVATION_ATTR = "_errortrail_observation"
EXC_ATTR = "_errortrail_exc_info"
DONE_ATTR = "_errortrail_reported"


@receiver(got_request_exception)
def _remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Keep the unhandled exception for the response hook (any layer, DEBUG or not)."""
    if request is not None:
        request.__dict__[EXC_ATTR] = current_exc_info()


def observation_for(request: HttpRequest, status: int, csrf_reason: str | None = None, exc_info: Any = None) -> Observation:
    """The request's observation, made once and shared by the friendly view and the middleware."""
    obs = request.__dict__.get(OBSERVATION_ATTR)
    if obs is not None and obs.status == status:
        return obs
    if exc_info is None:
        exc_info = request.__dict__.get(EXC_ATTR) or (current_exc_info() if status >= 500 else None)
    obs = observe(request, status, conf.get(), exc_info=exc_info, csrf_reason=csrf_reason)
    publisher = get_publisher()
    if not publisher.known.loaded and publisher.breaker.allow():
        _load_known(publisher)
    obs.known = publisher.known.match(obs.fingerprint, obs.error_type, request.path)
    request.__dict__[OBSERVATION_ATTR] = obs
    return obs


def _load_known(publisher: Any) -> None:
    # Once per process, before its first error page, so a fresh worker never shows a stale page.
    try:
        publisher.known.refresh(publisher.client, publisher.names)
        publisher.breaker.success()
    except Exception as exc:
        publisher.breaker.failure()
        log.warning("errortrail could not load the known-issue map: %s", exc)


def report(request: HttpRequest, response: HttpResponseBase) -> None:
    """Build and publish the event of an error response; never raises unless configured to."""
    if request.__dict__.get(DONE_ATTR):
        return
    request.__dict__[DONE_ATTR] = True
    try:
        cfg = conf.get()
        if not cfg["ENABLED"]:
            return
        obs = observation_for(request, response.status_code)
        response.headers.setdefault("X-Error-Reference", obs.event_id)
        get_publisher().publish(to_event(obs, request, cfg))
    except Exception:
        log.exception("errortrail could not report an error response")
        if conf.get().get("REPORT_INTERNAL_ERRORS"):
            raise
        try:
            get_publisher().count(conf.names().drops, "internal")
        except Exception:  # pragma: no cover - nothing left to do
            pass


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
            if conf.get()["ENABLED"]:
                get_publisher()  # start the background thread: the known map loads before the first error
        except Exception:
            log.exception("errortrail could not start")

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        response = self.get_response(request)
        if response.status_code >= 400:
            report(request, response)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        response = await self.get_response(request)
        if response.status_code >= 400:
            await sync_to_async(report, thread_sensitive=False)(request, response)
        return response
