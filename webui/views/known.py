"""Known issues: the list (state, filing, page views), one bug's page, edits, retries and new pattern issues."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from bugbot import services
from bugbot.models import Filing, KnownIssue, Status
from contracts.known import MAX_MESSAGE
from projector.models import ErrorGroup
from webui import charts, filters, known
from webui.access import staff_required
from webui.views.overview import range_links

RETRYABLE = (Filing.FAILED, Filing.HELD, Filing.PENDING, Filing.NONE)
_BUG_ID = re.compile(r"[A-Z][A-Z0-9]{0,5}-\d{1,9}\Z")


class EditForm(forms.Form):
    """The friendly message and the status of one known issue."""

    message = forms.CharField(max_length=MAX_MESSAGE, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              label="Friendly message")
    status = forms.ChoiceField(choices=Status.choices)


class PatternForm(forms.Form):
    """A known issue covering every error of a type on URLs matching a glob."""

    error_type = forms.CharField(max_length=32, label="Error type (csrf, 404, 500, … or *)")
    url_glob = forms.CharField(max_length=512, label="URL glob (e.g. /api/*)")
    message = forms.CharField(max_length=MAX_MESSAGE, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              label="Friendly message")
    bug_ref = forms.CharField(max_length=300, required=False, label="Existing bug (B-012 or issue URL), optional")
    file = forms.BooleanField(required=False, label="File it as a new issue")

    def clean_url_glob(self) -> str:
        glob = self.cleaned_data["url_glob"].strip()
        if not glob.startswith(("/", "*")):
            raise forms.ValidationError("A URL glob starts with / or *.")
        return glob


def form_errors(form: forms.Form) -> str:
    """A form's errors as one sentence."""
    return "; ".join(f"{name}: {e}" if name != "__all__" else e for name, errs in form.errors.items() for e in errs)


def known_url(bug_id: str) -> str:
    """A known issue's page."""
    return reverse("webui:known", args=[bug_id])


@staff_required
@require_GET
def known_list(request: HttpRequest) -> HttpResponse:
    """Every known issue with its state, filing state and page views; filtered and paginated."""
    f = filters.parse(request.GET, states=Status.values, filings=Filing.values, default_range=filters.ALL,
                      allow_all=True)
    qs = KnownIssue.objects.all()
    if f.state:
        qs = qs.filter(status=f.state)
    if f.filing:
        qs = qs.filter(filing_state=f.filing)
    if f.cls:
        qs = qs.filter(event__cls=f.cls)
    if f.route:
        qs = qs.filter(Q(url_glob__icontains=f.route) | Q(event__route__icontains=f.route)
                       | Q(event__path__icontains=f.route))
    if f.release:
        qs = qs.filter(event__release=f.release)
    if f.q:
        qs = qs.filter(Q(bug_id__iexact=f.q) | Q(title__icontains=f.q) | Q(error_fingerprint__startswith=f.q.lower()))
    start = filters.since(f.range, timezone.now())
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    page = Paginator(qs.order_by("-created_at", "-id"), f.per_page).get_page(f.page)
    views = known.views()
    return render(request, "webui/known_list.html", {
        "filters": f, "page": page, "views": views or {}, "views_known": views is not None,
        "ranges": range_links(f, keys=[*filters.RANGES, filters.ALL]), "states": Status.choices,
        "filings": Filing.choices, "classes": charts.class_choices(),
        "pattern_form": PatternForm(), "nav": "known",
    })


@staff_required
@require_GET
def known_detail(request: HttpRequest, bug_id: str) -> HttpResponse:
    """Every known issue under one bug id (usually one), with its edit form and the patterns it covers."""
    if not _BUG_ID.match(bug_id):
        raise Http404("no such known issue")
    issues = list(KnownIssue.objects.filter(bug_id=bug_id).order_by("id"))
    if not issues:
        raise Http404("no such known issue")
    fingerprints = [i.error_fingerprint for i in issues if i.error_fingerprint]
    groups = {g.fingerprint: g for g in ErrorGroup.objects.filter(fingerprint__in=fingerprints).only(
        "id", "fingerprint", "title", "count", "last_seen", "state")}
    views = known.views()
    items = [{"issue": i, "group": groups.get(i.error_fingerprint),
              "form": EditForm(initial={"message": i.friendly_message, "status": i.status}),
              "retryable": i.filing_state in RETRYABLE} for i in issues]
    return render(request, "webui/known_detail.html", {
        "bug_id": bug_id, "items": items, "views": (views or {}).get(bug_id, 0), "views_known": views is not None,
        "nav": "known",
    })


@staff_required
@require_POST
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a known issue's friendly message and status (a status change is pushed to its tracker issue)."""
    issue = get_object_or_404(KnownIssue, pk=pk)
    form = EditForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: " + form_errors(form), fail_silently=True)
        return redirect(known_url(issue.bug_id))
    try:
        services.update(issue, message=form.cleaned_data["message"], status=form.cleaned_data["status"])
    except services.ServiceError as exc:  # pragma: no cover - the form allows only what update() accepts
        messages.error(request, f"Not saved: {exc}", fail_silently=True)
    else:
        messages.success(request, f"{issue.bug_id} saved.", fail_silently=True)
    return redirect(known_url(issue.bug_id))


@staff_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """File a failed or held known issue again now."""
    issue = get_object_or_404(KnownIssue, pk=pk)
    try:
        services.retry_failed(issue)
    except services.ServiceError as exc:
        messages.error(request, str(exc), fail_silently=True)
    else:
        messages.success(request, f"{issue.bug_id} will be filed again now.", fail_silently=True)
    return redirect(known_url(issue.bug_id))


@staff_required
@require_POST
def create_pattern(request: HttpRequest) -> HttpResponse:
    """A new pattern known issue (error type + URL glob), optionally filed as a new tracker issue."""
    form = PatternForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not created: " + form_errors(form), fail_silently=True)
        return redirect("webui:known-list")
    data = form.cleaned_data
    try:
        issue = services.create_pattern_issue(data["error_type"].strip(), data["url_glob"], data["message"],
                                              data["bug_ref"].strip(), file=data["file"])
    except services.ServiceError as exc:
        messages.error(request, f"Not created: {exc}", fail_silently=True)
        return redirect("webui:known-list")
    messages.success(request, f"{issue.bug_id} now covers {issue.error_type} errors on {issue.url_glob}.",
                     fail_silently=True)
    return redirect(known_url(issue.bug_id))
