"""The dashboard's queries use indexes at 10^4 groups and 10^5-10^6 rows (PostgreSQL's planner decides)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum

from projector.models import ErrorGroup, ErrorHourly, ErrorLog
from projector.store import to_datetime
from tests.projector_support.factories import BASE_MS

pytestmark = [pytest.mark.integration, pytest.mark.backends, pytest.mark.django_db]
GROUPS, HOURS, SAMPLES = 10_000, 48, 100_000


@pytest.fixture
def volume():
    if connection.vendor != "postgresql":
        pytest.skip("planner choices are PostgreSQL's")
    start = to_datetime(BASE_MS)
    with connection.cursor() as cur:
        cur.execute(f"""INSERT INTO {ErrorGroup._meta.db_table} (fingerprint, basis, title, cls, error_type, status,
            method, path, route, culprit, exc_type, exc_message, csrf_kind, frames, release, environment, count, users,
            first_seen, last_seen, last_event_id, state, signal_id, signal_regression, signal_pending, sample_minute,
            sample_count, fixed_at_seen, after_fix_count)
            SELECT md5(i::text) || md5((i + 1)::text), 'b', 't', 'app_error', '500', 500, 'GET', '/', '', '', '', '',
                '', '[]', '', '', i, 0, %s, %s, '', 'unresolved', '', false, false, -1, 0, 0, 0
            FROM generate_series(1, {GROUPS}) AS i""", [start, start])
        cur.execute(f"""INSERT INTO {ErrorHourly._meta.db_table} (group_id, hour, count)
            SELECT g.id, %s + h * interval '1 hour', 1 + (g.id * h) %% 7
            FROM {ErrorGroup._meta.db_table} g, generate_series(0, {HOURS - 1}) AS h""", [start])
        cur.execute(f"""INSERT INTO {ErrorLog._meta.db_table} (event_id, stream_id, group_id, fingerprint, timestamp,
            error_type, status_code, cls, method, url, path, route, host, user_id, user_name, client, request_data,
            csrf_kind, exc_type, exc_message, culprit, frames, release, environment, known_bug, weight)
            SELECT lpad(i::text, 20, '0'), i || '-0', 1 + i %% {GROUPS}, 'f', %s + i * interval '1 second', '500', 500,
                'app_error', 'GET', '/', '/', '', '', '', '', '', '{{}}', '', '', '', '', '[]', '', '', '', 1
            FROM generate_series(1, {SAMPLES}) AS i""", [start])
        cur.execute("ANALYZE")
    return start


def test_the_dashboard_queries_use_indexes(volume):
    since = volume + timedelta(hours=10)
    top = (ErrorHourly.objects.filter(hour__gte=since, hour__lt=since + timedelta(hours=1))
           .values("group_id").annotate(total=Sum("count")).order_by("-total")[:20])
    group = ErrorGroup.objects.order_by("id")[500]
    plans = {
        "errhourly_hour_group": top.explain(),  # top groups of a time range
        "errhourly_group_hour": ErrorHourly.objects.filter(group=group, hour__gte=volume).order_by("hour").explain(),
        "errlog_group_latest": ErrorLog.objects.filter(group=group).order_by("-timestamp")[:10].explain(),
        "errlog_timestamp": ErrorLog.objects.order_by("-timestamp")[:50].explain(),
    }
    for index, plan in plans.items():
        assert index in plan and "Seq Scan" not in plan, plan
