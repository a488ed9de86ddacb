"""A staff-only view that shows each friendly page as production users would see it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from capture import conf
from capture.build import Observation
from capture.views import PAGES, render_friendly
from contracts import ids
from contracts.known import KnownEntry


def preview(request: HttpRequest, kind: str) -> HttpResponse:
    """Render page `kind` (?known=1 for the "We're aware" variant); the response is 200 so nothing is recorded."""
    if not getattr(getattr(request, "user", None), "is_staff", False):
        raise PermissionDenied
    if kind not in PAGES:
        raise Http404("no such page")
    obs = Observation(
        event_id=ids.new_id(), ts_ms=0, status=PAGES[kind]["status"], error_type="preview",
        cls="app_error", fingerprint="0" * 64, basis="preview", route=None,
    )
    if request.GET.get("known"):
        obs.known = KnownEntry(
            bug_id="B-001", url="https://github.com/example/site/issues/1",
            message="Saving appointments fails for some pets; a fix is on its way.", fingerprint="0" * 64,
        )
    response = render_friendly(kind, request, obs, conf.safe())
    response.status_code = 200
    return response
