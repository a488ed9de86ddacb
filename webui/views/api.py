"""The read-only JSON API (series, top patterns, health) behind the dashboard's staff check; see docs/api.md."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from webui import filters, health, queries
from webui.access import staff_required
from webui.views.overview import STATES, pattern_rows, window_for

API_VERSION = 1
MAX_LIMIT = 100


def respond(data: dict[str, Any]) -> HttpResponse:
    """orjson-encoded JSON (aware datetimes as RFC 3339 with their offset)."""
    body = {"version": API_VERSION, "generated_at": timezone.localtime(), **data}
    return HttpResponse(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), content_type="application/json")


def _local(moment: Any) -> Any:
    return timezone.localtime(moment) if moment is not None else None


@staff_required
@require_GET
def series(request: HttpRequest) -> HttpResponse:
    """Errors per bucket and class over the range."""
    f = filters.parse(request.GET, states=STATES)
    win = window_for(f)
    data = queries.class_series(win, f)
    return respond({
        "range": win.key, "step": win.step, "timezone": str(win.tz),
        "buckets": [_local(b) for b in win.buckets], "series": data,
        "total": sum(sum(counts) for counts in data.values()),
    })


@staff_required
@require_GET
def top(request: HttpRequest) -> HttpResponse:
    """The most frequent patterns of the range (limit 1..100, default 10)."""
    f = filters.parse(request.GET, states=STATES)
    win = window_for(f)
    try:
        limit = min(max(int(request.GET.get("limit") or 10), 1), MAX_LIMIT)
    except ValueError:
        limit = 10
    rows, _ = pattern_rows(win, queries.top_patterns(win, f, limit))
    out = []
    for row in rows:
        g, issue = row["group"], row["known"]
        out.append({
            "fingerprint": g.fingerprint, "title": g.title, "class": g.cls, "error_type": g.error_type,
            "status": g.status, "route": g.route, "state": g.state, "count_in_range": row["count"],
            "count_total": g.count, "users": g.users, "first_seen": _local(g.first_seen),
            "last_seen": _local(g.last_seen), "release": g.release,
            "url": request.build_absolute_uri(reverse("webui:pattern", args=[g.fingerprint])),
            "known_issue": None if issue is None else {
                "bug_id": issue.bug_id, "status": issue.status, "filing_state": issue.filing_state,
                "issue_url": issue.github_issue_url or None, "pattern": issue.is_pattern,
            },
        })
    return respond({"range": win.key, "patterns": out})


@staff_required
@require_GET
def pipeline_health(request: HttpRequest) -> HttpResponse:
    """The health panel's figures; Redis unreachable is `ok: false` with the fault, never an error status."""
    return respond({"health": health.read().as_dict()})
