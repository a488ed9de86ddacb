"""The overview (charts, top and new patterns, pipeline health) and the filtered, paginated list of patterns."""

from __future__ import annotations

from typing import Any, Iterable

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from projector.models import ErrorGroup
from webui import charts, filters, health, known, queries
from webui.access import staff_required

STATES = [state for state, _ in ErrorGroup.STATES]
STATE_CHOICES = list(ErrorGroup.STATES)
RANGE_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "all": "all time"}


def window_for(f: filters.Filters) -> filters.Window:
    """The chart window of the filters' range, in the site's timezone."""
    return filters.window(f.range, timezone.now(), timezone.get_current_timezone())


def range_links(f: filters.Filters, keys: Iterable[str] = filters.RANGES) -> list[dict[str, Any]]:
    """The range switch: one link per range, the current one marked."""
    return [{"key": k, "label": RANGE_LABELS[k], "query": f.query(range=k, page=1), "current": k == f.range}
            for k in keys]


def pattern_rows(window: filters.Window, top: list[dict[str, Any]], extra: Iterable[ErrorGroup] = ()
                 ) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    """Rows of (group, count in range, sparkline, known issue) for aggregate rows, and the known issue of each
    group including `extra` ones (five queries whatever the number of rows)."""
    by_id = queries.groups(row["group_id"] for row in top)
    extra = list(extra)
    spark_counts = queries.sparks(window, by_id)
    covered = known.covering([*by_id.values(), *extra])
    rows = []
    for row in top:
        group = by_id.get(row["group_id"])
        if group is None:  # pruned between the two queries
            continue
        rows.append({"group": group, "count": row["n"], "known": covered.get(group.id),
                     "spark": charts.sparkline(spark_counts[group.id], unit=window.step)})
    return rows, covered


def chart_for(window: filters.Window, f: filters.Filters) -> charts.Chart:
    """The errors-by-class chart of the window."""
    what = "hour" if window.step == "hour" else "day"
    title = f"Errors per {what} by class, last {RANGE_LABELS[window.key]}"
    return charts.stacked(window.labels(), queries.class_series(window, f), title)


@staff_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Frequency over time by class, the top patterns of the range, new patterns, pipeline health."""
    f = filters.parse(request.GET, states=STATES)
    win = window_for(f)
    top = queries.top_patterns(win, f)
    new = queries.new_patterns(timezone.now(), f)
    rows, covered = pattern_rows(win, top, extra=new)
    return render(request, "webui/overview.html", {
        "filters": f, "states": STATE_CHOICES, "classes": charts.class_choices(), "ranges": range_links(f),
        "chart": chart_for(win, f), "rows": rows, "new": [{"group": g, "known": covered.get(g.id)} for g in new],
        "health": health.read(), "nav": "overview",
    })


@staff_required
@require_GET
def patterns(request: HttpRequest) -> HttpResponse:
    """Every pattern with events in the range, most frequent first, filtered and paginated."""
    f = filters.parse(request.GET, states=STATES)
    win = window_for(f)
    page = Paginator(queries.RangeTop(win, f), f.per_page).get_page(f.page)
    rows, _ = pattern_rows(win, list(page.object_list))
    return render(request, "webui/patterns.html", {
        "filters": f, "states": STATE_CHOICES, "classes": charts.class_choices(), "ranges": range_links(f),
        "rows": rows, "page": page, "nav": "patterns",
    })
