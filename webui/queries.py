"""The dashboard's reads of the projector's tables: bounded queries the projector's indexes answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncDay

from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog
from webui.filters import Filters, Window

LIST_FIELDS = ("id", "fingerprint", "title", "cls", "error_type", "status", "method", "path", "route", "count",
               "users", "first_seen", "last_seen", "state", "release")
TOP_LIMIT = 10
NEW_LIMIT = 10


def group_q(filters: Filters, prefix: str = "") -> Q:
    """The filters that narrow groups (class, state, route, release, search), for ErrorGroup or a join to it."""
    q = Q()
    if filters.cls:
        q &= Q(**{f"{prefix}cls": filters.cls})
    if filters.state:
        q &= Q(**{f"{prefix}state": filters.state})
    if filters.route:
        q &= Q(**{f"{prefix}route__icontains": filters.route}) | Q(**{f"{prefix}path__icontains": filters.route})
    if filters.release:
        q &= Q(**{f"{prefix}release": filters.release})
    if filters.q:
        q &= Q(**{f"{prefix}title__icontains": filters.q}) | Q(**{f"{prefix}fingerprint__startswith": filters.q.lower()})
    return q


def _bucketed(qs: QuerySet, window: Window, key: str) -> QuerySet:
    """Sum `count` per (bucket, key): hourly rows as they are, daily ones truncated to local midnights."""
    qs = qs.filter(hour__gte=window.start, hour__lt=window.end)
    if window.step == "hour":
        qs = qs.annotate(b=F("hour"))
    else:
        qs = qs.annotate(b=TruncDay("hour", tzinfo=window.tz))
    return qs.values("b", key).annotate(n=Sum("count")).order_by()


def class_series(window: Window, filters: Filters) -> dict[str, list[int]]:
    """Errors per class per bucket: from ClassHourly, or from the groups' hourly rows when filters narrow groups."""
    series: dict[str, list[int]] = {}
    if filters.state or filters.route or filters.release or filters.q:
        rows = _bucketed(ErrorHourly.objects.filter(group_q(filters, "group__")), window, "group__cls")
        key = "group__cls"
    else:
        qs = ClassHourly.objects.filter(cls=filters.cls) if filters.cls else ClassHourly.objects.all()
        rows, key = _bucketed(qs, window, "cls"), "cls"
    for row in rows:
        i = window.index(row["b"])
        if i is not None:
            series.setdefault(row[key], [0] * len(window.buckets))[i] += row["n"]
    return series


def top_patterns(window: Window, filters: Filters) -> QuerySet:
    """(group_id, n) of the groups with events in the window, most first (slice it or hand it to a Paginator)."""
    qs = ErrorHourly.objects.filter(hour__gte=window.start, hour__lt=window.end)
    narrowing = group_q(filters, "group__")
    if narrowing:
        qs = qs.filter(narrowing)
    return qs.values("group_id").annotate(n=Sum("count")).order_by("-n", "group_id")


def groups(ids: Iterable[int]) -> dict[int, ErrorGroup]:
    """Groups by id, without their large fields."""
    return {g.id: g for g in ErrorGroup.objects.filter(id__in=list(ids)).only(*LIST_FIELDS)}


def sparks(window: Window, ids: Iterable[int]) -> dict[int, list[int]]:
    """Each group's counts per bucket of the window (one query for all of them)."""
    ids = list(ids)
    out = {gid: [0] * len(window.buckets) for gid in ids}
    if ids:
        for row in _bucketed(ErrorHourly.objects.filter(group_id__in=ids), window, "group_id"):
            i = window.index(row["b"])
            if i is not None:
                out[row["group_id"]][i] += row["n"]
    return out


def group_series(window: Window, group: ErrorGroup) -> dict[str, list[int]]:
    """One group's counts per bucket, keyed by its class (the shape stacked charts take)."""
    return {group.cls: sparks(window, [group.id])[group.id]}


def new_patterns(now: datetime, filters: Filters, limit: int = NEW_LIMIT) -> list[ErrorGroup]:
    """Groups first seen in the last 24 hours, newest first."""
    qs = ErrorGroup.objects.filter(first_seen__gte=now - timedelta(days=1)).filter(group_q(filters))
    return list(qs.only(*LIST_FIELDS).order_by("-first_seen", "-id")[:limit])


def latest_samples(group: ErrorGroup, filters: Filters, since: datetime | None) -> QuerySet:
    """A group's stored samples, newest first (the projector's (group, -timestamp) index)."""
    qs = ErrorLog.objects.filter(group_id=group.id)
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    if filters.release:
        qs = qs.filter(release=filters.release)
    if filters.route:
        qs = qs.filter(path__icontains=filters.route)
    return qs.order_by("-timestamp", "-id")

