"""The dashboard's reads of the projector's tables: bounded queries the projector's indexes answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncDay

from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog
from webui.filters import Filters, Window

LIST_FIELDS = ("id", "fingerprint", "title", "cls", "error_type", "status", "method", "path", "route", "count",
               "users", "first_seen", "last_seen", "state", "release")
TOP_LIMIT = 10
NEW_LIMIT = 10
CANDIDATE_BATCH = 100
MAX_BATCHES = 2


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
        q &= (Q(**{f"{prefix}title__icontains": filters.q})
              | Q(**{f"{prefix}fingerprint__startswith": filters.q.lower()}))
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


def aggregate_top(window: Window, filters: Filters) -> QuerySet:
    """{group_id, n} of every group with events in the window, most first: one aggregate over the hourly rows."""
    qs = ErrorHourly.objects.filter(hour__gte=window.start, hour__lt=window.end)
    narrowing = group_q(filters, "group__")
    if narrowing:
        qs = qs.filter(narrowing)
    return qs.values("group_id").annotate(n=Sum("count")).order_by("-n", "group_id")


def range_sums(window: Window, ids: list[int]) -> dict[int, int]:
    """Each group's events in the window (the (group, hour) unique index answers it)."""
    rows = ErrorHourly.objects.filter(group_id__in=ids, hour__gte=window.start, hour__lt=window.end)
    return dict(rows.values("group_id").annotate(n=Sum("count")).order_by().values_list("group_id", "n"))


def _kth(exact: dict[int, int], k: int) -> int:
    """The k-th largest exact count (-1 while there are fewer than k)."""
    return sorted(exact.values(), reverse=True)[k - 1] if len(exact) >= k else -1


def threshold_top(fetch: Callable[[int, int], list[tuple[int, int]]], sums: Callable[[list[int]], dict[int, int]],
                  need: int, first: int = CANDIDATE_BATCH, batches: int = MAX_BATCHES) -> list[tuple[int, int]] | None:
    """The `need` largest in-range counts, exactly, reading only the groups that can still make it.

    fetch(offset, n) gives candidates as (group id, all-time count) by count descending; a group's all-time count
    bounds its count in any range, so once the need-th best exact count beats the next candidate's bound no later
    one can enter. Returns [(group id, n)] most first (ties by id), or None when `batches` batches (each twice the
    last) did not settle it: counts that flat are cheaper to aggregate in one statement.
    """
    exact: dict[int, int] = {}
    offset, size = 0, first
    for round_ in range(batches + 1):
        batch = fetch(offset, size)
        if not batch or _kth(exact, need) > batch[0][1]:
            break
        if round_ == batches:
            return None
        ids = [gid for gid, _ in batch]
        found = sums(ids)
        exact.update((gid, found.get(gid, 0)) for gid in ids)
        if len(batch) < size or _kth(exact, need) > batch[-1][1]:
            break
        offset, size = offset + size, size * 2
    ranked = sorted(((gid, n) for gid, n in exact.items() if n > 0), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:need]


class RangeTop:
    """Groups with events in a window, most first, as a Paginator's object list.

    A group has events in [start, now] exactly when its last_seen is in it, so counting them is cheap. Hourly windows
    aggregate their few hourly rows at once; daily ones (up to 30 x 24 rows per group) use threshold_top, and the
    aggregate when it does not settle quickly.
    """

    def __init__(self, window: Window, filters: Filters) -> None:
        self.window = window
        self.filters = filters

    def _groups(self) -> QuerySet:
        return ErrorGroup.objects.filter(last_seen__gte=self.window.start).filter(group_q(self.filters))

    def candidates(self, offset: int, n: int) -> list[tuple[int, int]]:
        """(id, all-time count) of groups seen in the window, by count descending."""
        return list(self._groups().order_by("-count", "id").values_list("id", "count")[offset:offset + n])

    def count(self) -> int:
        """How many groups have events in the window."""
        return self._groups().count()

    def __getitem__(self, key: slice) -> list[dict[str, int]]:
        start, stop = key.start or 0, key.stop
        if stop <= start:
            return []
        if self.window.step == "hour":
            return list(aggregate_top(self.window, self.filters)[start:stop])
        top = threshold_top(self.candidates, lambda ids: range_sums(self.window, ids), stop, CANDIDATE_BATCH,
                            MAX_BATCHES)
        if top is None:
            return list(aggregate_top(self.window, self.filters)[start:stop])
        return [{"group_id": gid, "n": n} for gid, n in top[start:stop]]


def top_patterns(window: Window, filters: Filters, limit: int = TOP_LIMIT) -> list[dict[str, int]]:
    """{group_id, n} of the `limit` groups with the most events in the window."""
    return RangeTop(window, filters)[0:limit]


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

