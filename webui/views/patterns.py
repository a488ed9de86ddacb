"""A pattern's page (chart, why grouped, samples, known issue) and its actions: mark known, file a bug, triage."""

from __future__ import annotations

import json
import re

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from bugbot import services
from bugbot.models import Filing
from contracts.known import MAX_MESSAGE
from projector import services as group_services
from projector.models import ErrorGroup
from webui import charts, crossing, filters, known, queries
from webui.access import staff_required
from webui.views.overview import RANGE_LABELS, STATES, range_links

_FINGERPRINT = re.compile(r"[0-9a-f]{64}\Z")
SAMPLES_PER_PAGE = 10
STATE_ACTIONS = {"unresolved": ("ignore", "resolve"), "ignored": ("reopen", "resolve"), "resolved": ("reopen",)}


class MarkKnownForm(forms.Form):
    """Link a pattern to an existing bug (or give it a new id) with the message its error page shows."""

    bug_ref = forms.CharField(max_length=300, required=False, label="Existing bug (B-012 or issue URL)")
    message = forms.CharField(max_length=MAX_MESSAGE, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              label="Friendly message shown on the error page")


class StateForm(forms.Form):
    """ignore / resolve / reopen."""

    action = forms.ChoiceField(choices=[(a, a) for a in group_services.ACTIONS])


def group_or_404(fingerprint: str) -> ErrorGroup:
    """The group of a fingerprint (anything that is not 64 hex characters is a 404 without a query)."""
    if not _FINGERPRINT.match(fingerprint):
        raise Http404("no such pattern")
    group = ErrorGroup.objects.filter(fingerprint=fingerprint).first()
    if group is None:
        raise Http404("no such pattern")
    return group


def pattern_url(group: ErrorGroup) -> str:
    """The pattern's page."""
    return reverse("webui:pattern", args=[group.fingerprint])


def sample_view(sample: object) -> dict:
    """A sample with its request data as indented JSON text (escaped by the template like everything else)."""
    data = getattr(sample, "request_data", None) or {}
    return {"log": sample, "request": json.dumps(data, indent=2, sort_keys=True, default=str) if data else ""}


@staff_required
@require_http_methods(["GET", "HEAD"])
def pattern(request: HttpRequest, fingerprint: str) -> HttpResponse:
    """The pattern's chart, why it is one group, its latest samples and the known issue covering it."""
    group = group_or_404(fingerprint)
    f = filters.parse(request.GET, states=STATES)
    now = timezone.now()
    win = filters.window(f.range, now, timezone.get_current_timezone())
    chart = charts.stacked(win.labels(), queries.group_series(win, group),
                           f"Occurrences per {win.step}, last {RANGE_LABELS[win.key]}")
    since = win.start if "range" in request.GET else None
    page = Paginator(queries.latest_samples(group, f, since), SAMPLES_PER_PAGE).get_page(f.page)
    issue = known.covering([group]).get(group.id)
    views = known.views() if issue is not None else None
    initial = {"message": issue.friendly_message} if issue is not None and not issue.is_pattern else {}
    return render(request, "webui/pattern.html", {
        "group": group, "chart": chart, "filters": f, "ranges": range_links(f), "page": page,
        "samples": [sample_view(s) for s in page.object_list], "issue": issue,
        "views": (views or {}).get(issue.bug_id, 0) if issue is not None else 0, "views_known": views is not None,
        "mark_form": MarkKnownForm(initial=initial), "actions": STATE_ACTIONS.get(group.state, ()),
        "class_name": charts.class_name(group.cls), "nav": "patterns",
    })


@staff_required
@require_POST
def mark_known(request: HttpRequest, fingerprint: str) -> HttpResponse:
    """Mark the pattern as a known issue, linked to an existing bug when one is given."""
    group = group_or_404(fingerprint)
    form = MarkKnownForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not marked: " + "; ".join(e for errs in form.errors.values() for e in errs),
                       fail_silently=True)
        return redirect(pattern_url(group))
    try:
        issue = services.mark_known(group.fingerprint, form.cleaned_data["bug_ref"], form.cleaned_data["message"],
                                    event=crossing.event_for(group))
    except services.ServiceError as exc:
        messages.error(request, f"Not marked: {exc}", fail_silently=True)
    else:
        messages.success(request, f"Marked as known issue {issue.bug_id}: visitors who hit it now see "
                                  "\u201cWe're aware of this problem\u201d.", fail_silently=True)
    return redirect(pattern_url(group))


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def file_bug(request: HttpRequest, fingerprint: str) -> HttpResponse:
    """GET: the exact issue title and body filing would send. POST: file it now (caps do not hold it)."""
    group = group_or_404(fingerprint)
    event = crossing.event_for(group)
    if request.method == "POST":
        issue = services.request_filing(event, by_staff=True)
        if issue is None:  # pragma: no cover - request_filing returns an issue whenever it records one
            messages.error(request, "Nothing was filed.", fail_silently=True)
        elif issue.filing_state == Filing.FILED:
            messages.info(request, f"{issue.bug_id} is already filed.", fail_silently=True)
        else:
            messages.success(request, f"{issue.bug_id} is being filed.", fail_silently=True)
        return redirect(pattern_url(group))
    title, body = services.preview(event)
    existing = known.covering([group]).get(group.id)
    return render(request, "webui/file_preview.html", {
        "group": group, "title": title, "body": body, "issue": existing, "backend": services.backend_name(),
        "nav": "patterns",
    })


@staff_required
@require_POST
def set_state(request: HttpRequest, fingerprint: str) -> HttpResponse:
    """Ignore, resolve or reopen the pattern."""
    group = group_or_404(fingerprint)
    form = StateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown action.", fail_silently=True)
    elif group_services.apply_action(group.id, form.cleaned_data["action"]):
        state = group_services.ACTIONS[form.cleaned_data["action"]]
        messages.success(request, f"Pattern marked {state}.", fail_silently=True)
    else:
        messages.info(request, "Nothing changed: the pattern was already in that state.", fail_silently=True)
    return redirect(pattern_url(group))
