"""The overview and the patterns list: charts by class, ranges, top and new patterns, filters, pagination, time zone."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from bugbot import services
from projector.models import ClassHourly, ErrorGroup, ErrorHourly
from tests.webui_support.factories import HOUR_MS, event, fingerprint, group_row, now_ms, project
from tests.webui_support.fixtures import bugbot_env, staff_client, staff_user, webui_env  # noqa: F401
from webui import filters, queries

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def hour_start(ms: int) -> int:
    return ms - ms % HOUR_MS


def test_overview_charts_errors_per_hour_by_class(webui_env, staff_client):
    now = now_ms()
    project(webui_env, [event("a", ts=now), event("a", ts=now), event("b", cls="csrf", ts=now),
                        event("c", cls="not_found", ts=now - 5 * HOUR_MS), event("old", ts=now - 30 * HOUR_MS)])
    response = staff_client.get("/errors/")
    chart = response.context["chart"]
    assert chart.total == 4  # the 30-hour-old event is outside the last 24 hours
    assert [item["cls"] for item in chart.legend] == ["app_error", "csrf", "not_found"]
    last = chart.rows[-1]
    assert last[1] == [2, 1, 0] and last[2] == 3
    assert chart.rows[-6][2] == 1
    html = response.content.decode()
    assert 'class="cls-app_error"' in html and "<title" in html and "<desc" in html
    assert "Errors per hour by class, last 24 hours" in html
    assert "server error: 2" not in html  # labels read "<time>: 2 server error"
    assert ": 2 server error</title>" in html
    response = staff_client.get("/errors/?range=30d")
    assert response.context["chart"].total == 5
    assert len(response.context["chart"].rows) == 30


def test_the_class_filter_narrows_the_chart_and_the_lists(webui_env, staff_client):
    now = now_ms()
    project(webui_env, [event("a", ts=now), event("b", cls="csrf", ts=now)])
    response = staff_client.get("/errors/?cls=csrf")
    assert response.context["chart"].total == 1
    assert [row["group"].cls for row in response.context["rows"]] == ["csrf"]
    assert [item["group"].cls for item in response.context["new"]] == ["csrf"]


def test_group_filters_chart_from_the_groups_hourly_rows(webui_env, staff_client):
    now = now_ms()
    project(webui_env, [event("a", ts=now, release="r1"), event("b", ts=now, release="r2"),
                        event("c", cls="csrf", ts=now, release="r2", path="/appointments/1/book/")])
    ErrorGroup.objects.filter(fingerprint=fingerprint("b")).update(state="ignored")
    response = staff_client.get("/errors/?release=r2")
    assert response.context["chart"].total == 2
    assert {row["group"].fingerprint for row in response.context["rows"]} == {fingerprint("b"), fingerprint("c")}
    response = staff_client.get("/errors/?state=ignored")
    assert [row["group"].fingerprint for row in response.context["rows"]] == [fingerprint("b")]
    assert response.context["chart"].total == 1
    response = staff_client.get("/errors/?route=appointments")
    assert [row["group"].fingerprint for row in response.context["rows"]] == [fingerprint("c")]
    response = staff_client.get("/errors/?q=" + fingerprint("a")[:10])
    assert [row["group"].fingerprint for row in response.context["rows"]] == [fingerprint("a")]
    response = staff_client.get("/errors/?state=bogus&cls=nonsense&range=1y")
    assert response.context["filters"] == filters.Filters()


def test_top_patterns_count_only_the_range_and_show_users_sparkline_and_known_badge(webui_env, staff_client):
    now = now_ms()
    events = [event("hot", ts=now - i * 60_000) for i in range(5)]
    events += [event("hot", ts=now - 3 * 86_400_000 - i) for i in range(50)]  # outside 24 h, inside 7 d
    events += [event("warm", ts=now - i, user_id=str(i)) for i in range(3)]
    events += [event("form", cls="csrf", ts=now, path="/appointments/1/book/")]
    project(webui_env, events)
    services.mark_known(fingerprint("warm"), "", "known one")
    services.mark_known(("csrf", "/appointments/*"), "", "every booking csrf")
    response = staff_client.get("/errors/")
    rows = response.context["rows"]
    assert [(r["group"].fingerprint, r["count"]) for r in rows] == [
        (fingerprint("hot"), 5), (fingerprint("warm"), 3), (fingerprint("form"), 1)]
    assert rows[1]["group"].users == 3
    assert rows[0]["known"] is None
    assert rows[1]["known"].error_fingerprint == fingerprint("warm")
    assert rows[2]["known"].is_pattern and rows[2]["known"].url_glob == "/appointments/*"
    html = response.content.decode()
    assert html.count('class="spark"') == 3
    assert rows[1]["known"].bug_id in html
    response = staff_client.get("/errors/?range=7d")
    assert response.context["rows"][0]["count"] == 55


def test_new_patterns_since_yesterday(webui_env, staff_client):
    now = now_ms()
    project(webui_env, [event("new", ts=now), event("old", ts=now - 2 * 86_400_000), event("old", ts=now)])
    response = staff_client.get("/errors/")
    assert [item["group"].fingerprint for item in response.context["new"]] == [fingerprint("new")]
    assert {r["group"].fingerprint for r in response.context["rows"]} == {fingerprint("new"), fingerprint("old")}


def test_times_and_daily_buckets_follow_the_site_time_zone(webui_env, staff_client, settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # UTC+9, no daylight saving
    now = timezone.now()
    local_midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    just_before = local_midnight - timedelta(minutes=30)  # yesterday, local time
    ms = int(just_before.timestamp() * 1000)
    project(webui_env, [event("tz", ts=ms)])
    response = staff_client.get("/errors/?range=7d")
    rows = response.context["chart"].rows
    assert rows[-2][0] == just_before.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d")
    assert rows[-2][2] == 1 and rows[-1][2] == 0
    html = response.content.decode()
    local = timezone.localtime(ErrorGroup.objects.get().last_seen)
    assert local.strftime("%Y-%m-%d %H:%M") in html
    assert "Times are shown in Asia/Tokyo" in html


def test_patterns_list_paginates_with_bounded_page_size(webui_env, staff_client):
    now = now_ms()
    project(webui_env, [event(i, ts=now - i) for i in range(23) for _ in range(1 + i % 3)])
    response = staff_client.get("/errors/patterns/?per_page=10")
    page = response.context["page"]
    assert page.paginator.num_pages == 3 and page.paginator.count == 23
    first = [row["count"] for row in response.context["rows"]]
    assert first == sorted(first, reverse=True) and len(first) == 10
    html = response.content.decode()
    assert 'href="?per_page=10&amp;page=2"' in html or "page=2" in html
    response = staff_client.get("/errors/patterns/?per_page=10&page=3")
    assert len(response.context["rows"]) == 3
    response = staff_client.get("/errors/patterns/?per_page=100000&page=999999")
    assert response.context["page"].paginator.per_page == 100
    assert response.context["page"].number == 1
    response = staff_client.get("/errors/patterns/?range=30d&per_page=10&page=2")
    assert len(response.context["rows"]) == 10


@pytest.mark.parametrize("batch, batches", [(100, 2), (3, 50), (2, 1)])
def test_range_top_equals_the_plain_aggregate(webui_env, monkeypatch, batch, batches):
    """The threshold bound (small batches: many rounds; one round: the fallback) and the aggregate agree."""
    monkeypatch.setattr(queries, "CANDIDATE_BATCH", batch)
    monkeypatch.setattr(queries, "MAX_BATCHES", batches)
    rnd = random.Random(5)
    now = datetime.now(dt_timezone.utc)
    for n in range(60):
        group = group_row(n, count=0, last=now - timedelta(hours=rnd.randrange(0, 24 * 40)))
        total = 0
        for h in rnd.sample(range(0, 24 * 40), rnd.randrange(1, 30)):
            hour = (now - timedelta(hours=h)).replace(minute=0, second=0, microsecond=0)
            count = rnd.randrange(1, 50)
            ErrorHourly.objects.create(group=group, hour=hour, count=count)
            total += count
        newest = ErrorHourly.objects.filter(group=group).order_by("-hour").first().hour
        ErrorGroup.objects.filter(pk=group.pk).update(count=total + rnd.randrange(0, 500), last_seen=newest)
    tz = timezone.get_current_timezone()
    for key in filters.RANGES:
        win = filters.window(key, timezone.now(), tz)
        f = filters.Filters(range=key)
        expected = [(r["group_id"], r["n"]) for r in queries.aggregate_top(win, f)]
        top = queries.RangeTop(win, f)
        assert top.count() == len(expected), key
        assert top[3:3] == []
        for start in (0, 7, 20):
            assert [(r["group_id"], r["n"]) for r in top[start:start + 7]] == expected[start:start + 7], key


def test_the_threshold_bound_falls_back_to_the_aggregate_when_counts_are_flat(webui_env):
    now = datetime.now(dt_timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0)
    for n in range(40):
        group = group_row(n, count=10_000 - n, last=now)  # all-time counts say nothing about the range
        ErrorHourly.objects.create(group=group, hour=hour, count=1 + n)
    win = filters.window("7d", timezone.now(), timezone.get_current_timezone())
    f = filters.Filters(range="7d")
    top = queries.threshold_top(queries.RangeTop(win, f).candidates, lambda ids: queries.range_sums(win, ids), 5,
                                first=4, batches=2)
    assert top is None
    expected = [(r["group_id"], r["n"]) for r in queries.aggregate_top(win, f)][:5]
    assert [(r["group_id"], r["n"]) for r in queries.top_patterns(win, f, 5)] == expected
    assert expected[0][1] == 40


def test_query_counts_stay_bounded_however_many_patterns(webui_env, staff_client, django_assert_max_num_queries):
    now = now_ms()
    events = [event(i, ts=now - (i % 48) * HOUR_MS, cls=("app_error", "csrf", "not_found")[i % 3]) for i in range(60)]
    project(webui_env, events)
    for i in range(0, 60, 7):
        services.mark_known(fingerprint(i), "", "")
    services.mark_known(("404", "/things/*"), "", "")
    group = ErrorGroup.objects.order_by("id").first()
    for url, most in [("/errors/", 14), ("/errors/?range=30d", 16), ("/errors/patterns/?range=7d", 14),
                      (f"/errors/patterns/{group.fingerprint}/", 10),
                      (f"/errors/patterns/{group.fingerprint}/file/", 12),
                      ("/errors/known/", 6), ("/errors/api/top/?range=30d&limit=100", 14)]:
        with django_assert_max_num_queries(most):
            assert staff_client.get(url).status_code == 200, url


def test_chart_of_an_empty_site(webui_env, staff_client):
    response = staff_client.get("/errors/")
    assert response.context["chart"].total == 0
    assert b"No errors in this range." in response.content
    assert b"No errors match in this range." in response.content
    assert b"No new patterns in the last 24 hours." in response.content
    assert ClassHourly.objects.count() == 0


def test_a_group_pruned_between_the_two_queries_is_left_out(webui_env, staff_client, monkeypatch):
    project(webui_env, [event("a"), event("b")])
    real = queries.groups
    monkeypatch.setattr(queries, "groups", lambda ids: {k: v for k, v in real(ids).items()
                                                        if v.fingerprint != fingerprint("a")})
    rows = staff_client.get("/errors/").context["rows"]
    assert [r["group"].fingerprint for r in rows] == [fingerprint("b")]
