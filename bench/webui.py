"""The dashboard at size: 10^6 ErrorLog rows, 10^4 groups, 90 days of hourly counts on PostgreSQL; page p50/p95.

Seeds a dedicated database with generate_series (dropped afterwards), warms up, then times each page over
N requests with Django's test client (middleware, queries and templates included). Target (issue 5): the
overview and a pattern page under 200 ms p95. Reports PASS/FAIL; like every benchmark it exits 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import report as bench_report

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "webui.json"
TARGET_MS = 200.0
GROUPS = 10_000
LOGS = 1_000_000
DAYS = 90
HOT = 200  # groups with events every hour; the next WARM every 12 hours; the rest a few hours in total
WARM = 2_000


def __getattr__(name: str) -> Any:
    """This module is the bench site's ROOT_URLCONF: its urlpatterns, built once Django is set up."""
    if name == "urlpatterns":
        from django.urls import include, path

        return [path("errors/", include("webui.urls"))]
    raise AttributeError(name)


def pg_params() -> dict[str, Any]:
    """Where PostgreSQL is (the test suite's variables, else the local defaults)."""
    return {"host": os.environ.get("ERRORTRAIL_TEST_PGHOST", "127.0.0.1"),
            "port": os.environ.get("ERRORTRAIL_TEST_PGPORT", "5432"),
            "user": os.environ.get("ERRORTRAIL_TEST_PGUSER", "postgres"),
            "dbname": os.environ.get("ERRORTRAIL_TEST_PGDATABASE", "test")}


def admin_sql(sql: str) -> None:
    """Run a statement outside a transaction on the maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(**pg_params(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def configure(db_name: str, redis_url: str, prefix: str) -> None:
    """Django settings of the bench site: the dashboard on the bench database."""
    import django
    from django.conf import settings

    pg = pg_params()
    settings.configure(
        DEBUG=False, SECRET_KEY="bench-only", ALLOWED_HOSTS=["testserver"], USE_TZ=True, TIME_ZONE="Europe/Paris",
        ROOT_URLCONF="bench.webui", DEFAULT_AUTO_FIELD="django.db.models.BigAutoField", STATIC_URL="/static/",
        LOGIN_URL="/admin/login/",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                        "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
                        "capture", "projector", "bugbot", "webui"],
        MIDDLEWARE=["django.middleware.security.SecurityMiddleware", "capture.middleware.ErrorCaptureMiddleware",
                    "django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
            "context_processors": ["django.template.context_processors.request",
                                   "django.contrib.auth.context_processors.auth",
                                   "django.contrib.messages.context_processors.messages"]}}],
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "HOST": pg["host"], "PORT": pg["port"],
                               "USER": pg["user"], "NAME": db_name}},
        ERRORTRAIL={"REDIS_URL": redis_url, "PREFIX": prefix, "BACKGROUND": False, "BUG_BACKEND": "local"},
        LOGGING_CONFIG=None,
    )
    django.setup()


SEED = [
    # 10^4 groups: counts skewed like real traffic, seen over the last 30 days.
    f"""INSERT INTO projector_errorgroup (fingerprint, basis, title, cls, error_type, status, method, path, route,
        culprit, exc_type, exc_message, csrf_kind, frames, release, environment, count, users, first_seen, last_seen,
        last_event_id, state, signal_id, signal_regression, signal_pending, sample_minute, sample_count, fixed_at_seen,
        after_fix_count)
    SELECT encode(sha256(i::text::bytea), 'hex'), 'v1|exc|5xx|KeyError|frames=app.views:view_' || i,
        'KeyError: ''total'' in app.views:view_' || i,
        (ARRAY['app_error','csrf','permission','not_found','broken_link','probe','client_error'])[1 + i % 7],
        '500', 500, 'GET', '/things/' || i || '/', 'things/<int:pk>/' || i || '/', 'app.views:view_' || i,
        'KeyError', '''total''', '', '[{{"module": "app.views", "function": "view", "lineno": 10}}]', 'r' || (i % 5),
        'bench', 1000000 / i + 3, 1 + i % 50, now() - interval '30 days' + (i % 720) * interval '1 hour',
        now() - (i % 48) * interval '1 hour', '', CASE WHEN i % 10 = 0 THEN 'resolved' ELSE 'unresolved' END,
        '', false, false, -1, 0, 0, 0
    FROM generate_series(1, {GROUPS}) AS i""",
    # Hourly counts over 90 days: hot groups every hour, warm ones every 12 hours, the rest three hours each.
    f"""INSERT INTO projector_errorhourly (group_id, hour, count)
    SELECT g.id, date_trunc('hour', now()) - h * interval '1 hour', 1 + (g.id * 7 + h) % 40
    FROM projector_errorgroup g CROSS JOIN generate_series(0, {DAYS * 24 - 1}) AS h
    WHERE g.id <= {HOT} OR (g.id <= {WARM} AND (h + g.id) % 12 = 0)
       OR (g.id > {WARM} AND h IN (g.id % {DAYS * 24}, (g.id * 7) % {DAYS * 24}, (g.id * 13) % 720))""",
    """INSERT INTO projector_classhourly (cls, hour, count)
    SELECT g.cls, h.hour, sum(h.count) FROM projector_errorhourly h JOIN projector_errorgroup g ON g.id = h.group_id
    GROUP BY g.cls, h.hour""",
    # 10^6 samples over 30 days, most of them for the busiest groups.
    f"""INSERT INTO projector_errorlog (event_id, stream_id, group_id, fingerprint, timestamp, error_type, status_code,
        cls, method, url, path, route, host, user_id, user_name, client, request_data, csrf_kind, exc_type, exc_message,
        culprit, frames, release, environment, known_bug, weight)
    SELECT lpad(s::text, 20, '0'), s || '-0', g, encode(sha256(g::text::bytea), 'hex'),
        now() - random() * interval '30 days', '500', 500, 'app_error', 'GET', 'https://site.test/things/' || g || '/',
        '/things/' || g || '/', 'things/<int:pk>/', 'site.test', (s % 997)::text, 'user' || (s % 997), '',
        '{{"query": {{"q": "x"}}, "headers": {{"User-Agent": "Mozilla/5.0 (bench)", "Accept": "text/html"}}}}',
        '', 'KeyError', '''total''', 'app.views:view',
        '[{{"module": "app.views", "function": "view", "filename": "app/views.py", "lineno": 10,
           "context": "x = d[''k'']"}}]',
        'r1', 'bench', '', 1
    FROM (SELECT s, 1 + floor({GROUPS} * power(random(), 3))::int AS g FROM generate_series(1, {LOGS}) AS s) AS t""",
    "VACUUM ANALYZE",
]


def seed() -> dict[str, float]:
    """Fill the bench database; seconds per step."""
    from django.db import connection

    from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog

    models = (ErrorGroup, ErrorHourly, ClassHourly, ErrorLog)
    tables = {f"projector_{m.__name__.lower()}": m._meta.db_table for m in models}
    timings = {}
    for i, sql in enumerate(SEED):
        for plain, real in tables.items():
            sql = sql.replace(f"{plain} ", f"{real} ")
        started = time.perf_counter()
        with connection.cursor() as cur:  # autocommit: each statement commits (VACUUM needs that)
            cur.execute(sql)
        timings[f"step{i}"] = round(time.perf_counter() - started, 2)
    return timings


def measure(client: Any, url: str, rounds: int) -> dict[str, Any]:
    """Median and p95 of rounds requests (after three warm-up ones) and the queries one request makes."""
    from django.db import connection

    for _ in range(3):
        assert client.get(url).status_code == 200, url
    statements: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
        client.get(url)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]
    return {"url": url, "p50_ms": round(statistics.median(samples), 1), "p95_ms": round(p95, 1),
            "max_ms": round(samples[-1], 1), "queries": len(statements), "rounds": rounds}


def pages() -> list[tuple[str, str, bool]]:
    """(name, url, has a target) of every page measured."""
    from django.db.models import Count

    from projector.models import ErrorGroup, ErrorLog

    hottest = ErrorLog.objects.values("group_id").annotate(n=Count("id")).order_by("-n").first()["group_id"]
    hot_fp = ErrorGroup.objects.get(id=hottest).fingerprint
    typical_fp = ErrorGroup.objects.get(id=GROUPS // 2).fingerprint
    return [
        ("overview 24h", "/errors/", True),
        ("overview 7d", "/errors/?range=7d", True),
        ("overview 30d", "/errors/?range=30d", True),
        ("patterns 30d, page 3", "/errors/patterns/?range=30d&page=3", False),
        ("pattern (most samples)", f"/errors/patterns/{hot_fp}/", True),
        ("pattern (most samples) 30d", f"/errors/patterns/{hot_fp}/?range=30d", True),
        ("pattern (typical)", f"/errors/patterns/{typical_fp}/", True),
        ("api top 30d", "/errors/api/top/?range=30d", False),
    ]


def run(rounds: int, redis_url: str, keep: bool = False) -> dict[str, Any]:
    """Create, seed, measure and drop the bench database (kept with --keep, to look at query plans)."""
    db_name = f"errortrail_bench_webui_{os.getpid()}"
    prefix = f"errortrail-bench-webui-{uuid.uuid4().hex[:8]}:"
    admin_sql(f'CREATE DATABASE "{db_name}"')
    try:
        configure(db_name, redis_url, prefix)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        timings = seed()
        seed_s = round(time.perf_counter() - started, 1)
        from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog

        counts = {m.__name__.lower(): m.objects.count() for m in (ErrorLog, ErrorGroup, ErrorHourly, ClassHourly)}
        client = Client()
        client.force_login(get_user_model().objects.create_user("bench", is_staff=True))
        results = [{"page": name, "target": target, **measure(client, url, rounds)} for name, url, target in pages()]
        # Worst case of the top-N bound: all-time counts that rank groups opposite to their recent activity.
        with connection.cursor() as cur:
            cur.execute(f"UPDATE {ErrorGroup._meta.db_table} SET count = 10000000 - count")
        for name, url in (("overview 30d, counts inverted", "/errors/?range=30d"),
                          ("overview 7d, counts inverted", "/errors/?range=7d")):
            results.append({"page": name, "target": False, **measure(client, url, rounds)})
        connection.close()
        return {"rows": counts, "seed_seconds": seed_s, "seed_steps": timings, "pages": results}
    finally:
        from django.db import connections

        connections.close_all()
        if keep:
            print(f"kept database {db_name}; drop it with: DROP DATABASE \"{db_name}\"")
        else:
            admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        _clean_redis(redis_url, prefix)


def _clean_redis(url: str, prefix: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    except Exception:  # nothing was written when Redis is not there
        pass


def report(result: dict[str, Any]) -> None:
    """Print the table and the verdicts."""
    rows = result["rows"]
    print(f"seeded in {result['seed_seconds']} s: {rows['errorlog']:,} ErrorLog, {rows['errorgroup']:,} groups, "
          f"{rows['errorhourly']:,} hourly rows, {rows['classhourly']:,} class-hourly rows")
    print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}  verdict")
    for page in result["pages"]:
        verdict = ("PASS" if page["p95_ms"] < TARGET_MS else "FAIL") if page["target"] else "(no target)"
        page["verdict"] = verdict
        print(f"{page['page']:32} {page['p50_ms']:8.1f} {page['p95_ms']:8.1f} {page['max_ms']:8.1f} "
              f"{page['queries']:8d}  {verdict}")
    verdicts = [p["verdict"] for p in result["pages"] if p["target"]]
    print(f"target: overview and pattern pages p95 < {TARGET_MS:.0f} ms: "
          f"{'PASS' if all(v == 'PASS' for v in verdicts) else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    """Seed, measure, report; exits 0 (benchmarks report, tests assert)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 30)))
    parser.add_argument("--keep", action="store_true", help="Keep the seeded database (to study query plans).")
    parser.add_argument("--output", default=os.environ.get("BENCH_OUTPUT", str(RESULTS)))
    args = parser.parse_args(argv or [])
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("ERRORTRAIL_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        admin_sql("SELECT 1")
    except Exception as exc:
        print(f"PostgreSQL does not answer ({exc}): skipping the dashboard benchmark.", file=sys.stderr)
        return 0
    result = run(args.rounds, redis_url, args.keep)
    result.update(python=platform.python_version(), machine=platform.machine(), target_ms=TARGET_MS)
    report(result)
    bench_report.save(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
