"""Dead letters of every consumer, with their reasons; requeue to the source stream or discard."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from webui import charts, connection, deadletters, filters
from webui.access import staff_required
from webui.views.overview import range_links

OUTCOMES = {
    deadletters.REQUEUED: "Requeued: the entry is back on {source} and will be processed again.",
    deadletters.DISCARDED: "Discarded.",
    deadletters.MISSING: "That entry is gone (already requeued or discarded).",
    deadletters.EMPTY: "That entry has no payload to requeue; discard it instead.",
    deadletters.BUSY: "The dead-letter stream kept changing; try again.",
}


def parse_filters(params: QueryDict) -> filters.Filters:
    """The dead-letter list's filters."""
    return filters.parse(params, sources=deadletters.sources(), default_range=filters.ALL, allow_all=True)


@staff_required
@require_GET
def dead_list(request: HttpRequest) -> HttpResponse:
    """Dead letters, newest first, filtered and paginated; a Redis fault is shown, not raised."""
    f = parse_filters(request.GET)
    fault, letters, cut = "", [], False
    try:
        letters, cut = deadletters.read(connection.client(), f, filters.since(f.range, timezone.now()))
    except connection.ERRORS as exc:
        fault = f"Redis unreachable: {type(exc).__name__}: {exc}"[:300]
    page = Paginator(letters, f.per_page).get_page(f.page)
    sources = deadletters.sources()
    return render(request, "webui/dead.html", {
        "filters": f, "page": page, "fault": fault, "cut": cut, "scan_limit": deadletters.MAX_SCAN,
        "sources": [(key, label) for key, (label, _) in sources.items()],
        "labels": {key: label for key, (label, _) in sources.items()},
        "ranges": range_links(f, keys=[*filters.RANGES, filters.ALL]), "classes": charts.class_choices(),
        "back": f.query(), "nav": "dead",
    })


@staff_required
@require_POST
def act(request: HttpRequest, action: str) -> HttpResponse:
    """Requeue or discard one entry, then back to the list as it was filtered."""
    back = parse_filters(QueryDict(request.POST.get("back", "")[:2000])).query()
    dead_key, entry_id = request.POST.get("dead_key", ""), request.POST.get("entry_id", "")
    try:
        client = connection.client()
        if action == "requeue":
            outcome = deadletters.requeue(client, dead_key, entry_id)
        else:
            outcome = deadletters.discard(client, dead_key, entry_id)
    except ValueError as exc:
        messages.error(request, f"Nothing done: {exc}.", fail_silently=True)
    except connection.ERRORS as exc:
        messages.error(request, f"Nothing done: Redis unreachable ({type(exc).__name__}).", fail_silently=True)
    else:
        label = deadletters.sources()[dead_key][0]
        level = messages.SUCCESS if outcome in (deadletters.REQUEUED, deadletters.DISCARDED) else messages.WARNING
        messages.add_message(request, level, OUTCOMES[outcome].format(source=label), fail_silently=True)
    return redirect(reverse("webui:dead") + (f"?{back}" if back else ""))
