"""Filter parsing and time windows in the site's timezone (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django.http import QueryDict

from webui import filters
from webui.filters import Filters

PARIS = ZoneInfo("Europe/Paris")


def test_parse_keeps_known_values_and_drops_the_rest():
    f = filters.parse(QueryDict("range=7d&cls=csrf&state=ignored&route=%20/api/%20&release=r1&page=3&per_page=30&x=1"),
                      states=["ignored"])
    assert f == Filters(range="7d", cls="csrf", state="ignored", route="/api/", release="r1", page=3, per_page=25)
    assert filters.parse(QueryDict("range=1y&cls=evil&state=x&page=-4&per_page=abc")) == Filters()
    assert filters.parse(QueryDict("page=99999999&per_page=5000")).page == filters.MAX_PAGE
    assert filters.parse(QueryDict("route=" + "a" * 500)).route == "a" * filters.MAX_TEXT
    assert filters.parse(QueryDict(""), default_range=filters.ALL, allow_all=True).range == "all"
    assert filters.parse(QueryDict("range=all")).range == "24h"
    assert filters.parse(QueryDict("source=k&filing=held"), sources=["k"], filings=["held"]).source == "k"


def test_query_strings_keep_the_range_and_drop_defaults():
    f = Filters(range="30d", cls="csrf", page=2)
    assert f.query() == "range=30d&cls=csrf&page=2"
    assert f.query(page=1) == "range=30d&cls=csrf"
    assert Filters(q="a&b=c").query() == "range=24h&q=a%26b%3Dc"
    assert not Filters().narrowed and Filters(release="r").narrowed


def test_hourly_window_ends_with_the_current_hour():
    now = datetime(2027, 3, 1, 10, 25, tzinfo=timezone.utc)
    w = filters.window("24h", now, PARIS)
    assert len(w.buckets) == 24 and w.end == datetime(2027, 3, 1, 11, tzinfo=timezone.utc)
    assert w.start == datetime(2027, 2, 28, 11, tzinfo=timezone.utc)
    assert w.index(now) == 23 and w.index(w.start) == 0
    assert w.index(w.start - timedelta(seconds=1)) is None and w.index(w.end) is None
    assert w.labels()[-1] == ("11:00", "2027-03-01 11:00")  # 10:00 UTC is 11:00 in Paris


def test_daily_window_uses_local_midnights_across_daylight_saving():
    now = datetime(2027, 3, 29, 12, tzinfo=timezone.utc)  # Paris moved to summer time on the 28th
    w = filters.window("7d", now, PARIS)
    assert [b.day for b in w.buckets] == [23, 24, 25, 26, 27, 28, 29]
    assert all(b.hour == 0 for b in w.buckets)
    assert w.buckets[-1].utcoffset() == timedelta(hours=2) and w.buckets[0].utcoffset() == timedelta(hours=1)
    assert w.end == datetime(2027, 3, 30, tzinfo=PARIS)
    assert w.index(datetime(2027, 3, 28, 22, 30, tzinfo=timezone.utc)) == 6  # 00:30 on the 29th, local
    assert w.index(datetime(2027, 3, 28, 21, 30, tzinfo=timezone.utc)) == 5
    assert w.index(datetime(2027, 3, 29, 0, 0)) == 6  # a naive bucket from the database is local
    assert w.labels()[0] == ("23 Mar", "2027-03-23")
    assert len(filters.window("30d", now, PARIS).buckets) == 30
    assert filters.window("bogus", now, PARIS).key == "24h"


def test_since():
    now = datetime(2027, 1, 10, tzinfo=timezone.utc)
    assert filters.since("24h", now) == now - timedelta(hours=24)
    assert filters.since("7d", now) == now - timedelta(days=7)
    assert filters.since("all", now) is None
