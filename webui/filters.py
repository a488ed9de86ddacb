"""Pure parsing of list filters and time windows (hourly for 24 h, daily for 7 or 30 days) in the site's timezone."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

from contracts.events import CLASSES

HOUR = timedelta(hours=1)
RANGES = {"24h": ("hour", 24), "7d": ("day", 7), "30d": ("day", 30)}
ALL = "all"
DEFAULT_RANGE = "24h"
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
MAX_PAGE = 10_000
MAX_TEXT = 200


@dataclass(frozen=True)
class Window:
    """A chart's time range: bucket starts (aware) and the half-open [start, end) they cover."""

    key: str
    step: str
    start: datetime
    end: datetime
    buckets: tuple[datetime, ...]
    tz: tzinfo

    def index(self, moment: datetime) -> int | None:
        """The bucket a moment (or a bucket start from the database) falls in; None outside the window."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        if self.step == "hour":
            i = int((moment - self.start) // HOUR)
        else:
            i = (moment.astimezone(self.tz).date() - self.start.astimezone(self.tz).date()).days
        return i if 0 <= i < len(self.buckets) else None

    def labels(self) -> list[tuple[str, str]]:
        """(short, long) label of each bucket, in the window's timezone."""
        out = []
        for start in self.buckets:
            local = start.astimezone(self.tz)
            if self.step == "hour":
                out.append((local.strftime("%H:%M"), local.strftime("%Y-%m-%d %H:%M")))
            else:
                out.append((local.strftime("%d %b"), local.strftime("%Y-%m-%d")))
        return out


def window(key: str, now: datetime, tz: tzinfo) -> Window:
    """The window of a range key ending with the current hour (hourly) or today (daily, local midnights)."""
    step, n = RANGES.get(key, RANGES[DEFAULT_RANGE])
    key = key if key in RANGES else DEFAULT_RANGE
    if step == "hour":
        end = now.replace(minute=0, second=0, microsecond=0) + HOUR
        buckets = tuple(end - HOUR * (n - i) for i in range(n))
    else:
        today = now.astimezone(tz).date()
        buckets = tuple(datetime.combine(today - timedelta(days=n - 1 - i), time(0), tzinfo=tz) for i in range(n))
        end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
    return Window(key, step, buckets[0], end, buckets, tz)


def since(key: str, now: datetime) -> datetime | None:
    """The lower time bound of a list filter's range (None for "all")."""
    if key not in RANGES:
        return None
    step, n = RANGES[key]
    return now - (HOUR * n if step == "hour" else timedelta(days=n))


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to; empty strings mean "any"."""

    range: str = DEFAULT_RANGE
    cls: str = ""
    state: str = ""
    filing: str = ""
    route: str = ""
    release: str = ""
    source: str = ""
    q: str = ""
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    def query(self, **changes: Any) -> str:
        """The query string for these filters with some changed (defaults left out), e.g. for page links."""
        current = replace(self, **changes)
        pairs = [(f.name, getattr(current, f.name)) for f in fields(self)]
        skip = {"page": 1, "per_page": DEFAULT_PAGE_SIZE}
        return urlencode([(k, v) for k, v in pairs if v != "" and skip.get(k) != v])

    @property
    def narrowed(self) -> bool:
        """Whether anything beyond the range narrows the list."""
        return bool(self.cls or self.state or self.filing or self.route or self.release or self.source or self.q)


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name) or ""
    return str(value).strip()[:MAX_TEXT]


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(str(params.get(name) or default))
    except ValueError:
        return default
    return min(max(value, low), high)


def _choice(params: Mapping[str, Any], name: str, allowed: Iterable[str]) -> str:
    value = _text(params, name)
    return value if value in set(allowed) else ""


def parse(params: Mapping[str, Any], states: Iterable[str] = (), filings: Iterable[str] = (),
          sources: Iterable[str] = (), default_range: str = DEFAULT_RANGE, allow_all: bool = False) -> Filters:
    """Filters from query parameters; anything unknown or out of bounds falls back to its default."""
    ranges = [*RANGES, ALL] if allow_all else list(RANGES)
    range_key = _text(params, "range")
    per_page = _int(params, "per_page", DEFAULT_PAGE_SIZE, PAGE_SIZES[0], PAGE_SIZES[-1])
    return Filters(
        range=range_key if range_key in ranges else default_range,
        cls=_choice(params, "cls", CLASSES),
        state=_choice(params, "state", states),
        filing=_choice(params, "filing", filings),
        route=_text(params, "route"),
        release=_text(params, "release"),
        source=_choice(params, "source", sources),
        q=_text(params, "q"),
        page=_int(params, "page", 1, 1, MAX_PAGE),
        per_page=min(PAGE_SIZES, key=lambda size: abs(size - per_page)),
    )
