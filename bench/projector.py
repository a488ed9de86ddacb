"""Projector throughput next to the raw ceiling, replay of 1,000,000 events, memory over a soak (issue 3's targets)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import report as bench_report

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "projector.json"
FINGERPRINTS = 1000
TARGET_RATE = 20_000
TARGET_RATIO = 0.70
TARGET_REPLAY_S = 60.0
REPLAY_REFERENCE = 1_000_000
ROUNDS = 3  # raw ceiling and projector alternate; the best round of each is reported (a shared, noisy box)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def redis_url() -> str:
    """BENCH_REDIS_URL, ERRORTRAIL_REDIS_URL, REDIS_URL, else the local default."""
    for name in ("BENCH_REDIS_URL", "ERRORTRAIL_REDIS_URL", "REDIS_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return "redis://127.0.0.1:6379/0"


def pg_params() -> dict[str, Any]:
    """The PostgreSQL server (BENCH_PG* or the test suite's ERRORTRAIL_TEST_PG* variables)."""
    def get(name: str, default: str) -> str:
        return os.environ.get(f"BENCH_PG{name}") or os.environ.get(f"ERRORTRAIL_TEST_PG{name}") or default

    return {"host": get("HOST", "127.0.0.1"), "port": int(get("PORT", "5432")), "user": get("USER", "postgres"),
            "dbname": get("DATABASE", "test")}


# -- events --------------------------------------------------------------------------------------

def templates() -> list[dict]:
    """1,000 patterns' wire maps, about 1 KB on average as in ANCHORS.md (60 % 5xx with 3 frames, the rest 4xx)."""
    import hashlib

    from contracts import codec, ids
    from contracts.events import ErrorObserved

    out = []
    classes = ["app_error"] * 6 + ["not_found", "csrf", "broken_link", "client_error"]
    for n in range(FINGERPRINTS):
        cls = classes[n % len(classes)]
        status = {"app_error": 500, "csrf": 403, "client_error": 400}.get(cls, 404)
        path = f"/things/{n}/"
        fields: dict[str, Any] = dict(
            id=ids.new_id(0), ts=0, status=status, error_type="csrf" if cls == "csrf" else str(status), cls=cls,
            method="POST", path=path, url=f"https://site.test{path}?page=2",
            fingerprint=hashlib.sha256(f"bench-{n}".encode()).hexdigest(), basis=f"v1|{status}|things/<int:pk>/|{n}",
            route="things/<int:pk>/", release="r1", environment="bench", client="c" * 32,
            request={
                "query": {"page": "2", "sort": "name", "filter": "active"},
                "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
                            "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en-GB,en;q=0.9",
                            "Referer": f"https://site.test/things/{n}/"},
                "body": {"name": "Rex", "species": "dog", "notes": "x" * 60},
            },
        )
        if status >= 500:
            fields.update(exc_type="ValueError", exc_message=f"invalid literal for int() with base 10: 'x{n}'",
                          culprit=f"app.views:view_{n}", frames=[
                              {"module": f"app.module{i}", "function": f"func_{n}_{i}", "lineno": 10 + i,
                               "filename": f"app/module{i}.py", "context": "value = int(raw)"} for i in range(3)])
        out.append(codec.to_map(ErrorObserved(**fields)))
    return out


def encoded(count: int, start_ms: int, pool: list[dict], users: int = 5000) -> list[bytes]:
    """count events cycling through the patterns, 1 ms apart, with fresh ids and a pool of users."""
    import msgpack

    from contracts import ids

    out = []
    for i in range(count):
        wire = dict(pool[i % len(pool)])
        ts = start_ms + i
        wire["ts"], wire["id"] = ts, ids.new_id(ts)
        wire["user_id"] = str(i % users)
        out.append(msgpack.packb(wire, use_bin_type=True))
    return out


def fill(client: Any, stream: str, payloads: list[bytes]) -> None:
    """XADD every payload (pipelined)."""
    for i in range(0, len(payloads), 2000):
        pipe = client.pipeline(transaction=False)
        for data in payloads[i : i + 2000]:
            pipe.xadd(stream, {"e": data})
        pipe.execute()


# -- the raw ceiling -------------------------------------------------------------------------------

def raw_ceiling(client: Any, conn: Any, stream: str, total: int) -> float:
    """A bare loop: XREADGROUP 1000, msgpack decode, sum per fingerprint, one unnest upsert, one binary COPY, XACK."""
    import msgpack
    from psycopg.types.json import Jsonb

    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_agg, bench_events")
        cur.execute("CREATE TABLE bench_agg (fp text PRIMARY KEY, n bigint NOT NULL)")
        cur.execute("CREATE TABLE bench_events (id text, fp text, ts timestamptz, status int2, path text, payload jsonb)")
    conn.commit()
    client.xgroup_create(stream, "raw", id="0")
    done = 0
    started = time.perf_counter()
    while done < total:
        reply = client.xreadgroup("raw", "raw-1", {stream: ">"}, count=1000)
        if not reply:
            break
        entries = reply[0][1]
        agg: dict[str, int] = {}
        rows = []
        for _, fields in entries:
            m = msgpack.unpackb(fields[b"e"], raw=False)
            fp = m["fingerprint"]
            agg[fp] = agg.get(fp, 0) + m["weight"]
            rows.append((m["id"], fp, datetime.fromtimestamp(m["ts"] / 1000, tz=timezone.utc), m["status"], m["path"],
                         Jsonb(m["request"])))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO bench_agg SELECT * FROM unnest(%b::text[], %b::int8[]) "
                        "ON CONFLICT (fp) DO UPDATE SET n = bench_agg.n + excluded.n", [list(agg), list(agg.values())])
            with cur.copy("COPY bench_events FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "timestamptz", "int2", "text", "jsonb"])
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        client.xack(stream, "raw", *[e[0] for e in entries])
        done += len(entries)
    rate = done / (time.perf_counter() - started)
    with conn.cursor() as cur:  # no autovacuum of these rows during the projector's turn
        cur.execute("DROP TABLE bench_agg, bench_events")
    conn.commit()
    return rate


# -- the worker (a fresh process with its own Django settings) ---------------------------------------

def setup_django(dbname: str, prefix: str, pg: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False, USE_TZ=True, TIME_ZONE="UTC", INSTALLED_APPS=["projector"], LOGGING_CONFIG=None,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "HOST": pg["host"], "PORT": pg["port"],
                               "USER": pg["user"], "NAME": dbname}},
        ERRORTRAIL={"PREFIX": prefix, "REDIS_URL": redis_url(), "PROJECTOR_BLOCK_MS": 200,
                    **json.loads(os.environ.get("BENCH_ERRORTRAIL") or "{}")},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(events: int, replay_events: int, soak_s: float) -> dict[str, Any]:
    import psycopg
    import redis

    pg = pg_params()
    tag = uuid.uuid4().hex[:10]
    dbname, prefix = f"errortrail_bench_{tag}", f"errortrail-bench-{tag}:"
    admin = psycopg.connect(**pg, autocommit=True)
    admin.execute(f'CREATE DATABASE "{dbname}"')
    client = redis.Redis.from_url(redis_url())
    out: dict[str, Any] = {}
    try:
        setup_django(dbname, prefix, pg)
        from django.db import connection

        from projector import conf
        from projector.loop import Projector
        from projector.models import ErrorGroup, ErrorLog
        from projector.replay import replay
        from projector.store import for_alias

        from projector.process import tune_process

        names = conf.names()
        pool = templates()
        tune_process()
        raw_rates, rates = [], []
        start_ms = int(time.time() * 1000) - 10 * 24 * 3600 * 1000
        for round_no in range(ROUNDS):
            payloads = encoded(events, start_ms + round_no * events, pool)
            raw_stream = f"{prefix}raw{round_no}"
            fill(client, raw_stream, payloads)
            fill(client, names.errors(), payloads)
            conn = psycopg.connect(**{**pg, "dbname": dbname})
            raw_rates.append(raw_ceiling(client, conn, raw_stream, events))
            conn.close()
            client.delete(raw_stream)
            projector = Projector(client, for_alias("default"), consumer="bench", until_idle=True)
            started = time.perf_counter()
            projector.run()
            rates.append(projector.stats.events / (time.perf_counter() - started))
            print(f"round {round_no + 1}: raw {raw_rates[-1]:,.0f}/s, projector {rates[-1]:,.0f}/s", file=sys.stderr)
        total = sum(ErrorGroup.objects.values_list("count", flat=True))
        out["throughput"] = {
            "events_per_round": events, "raw_ceiling_per_s": round(max(raw_rates)), "projector_per_s": round(max(rates)),
            "all_raw": [round(r) for r in raw_rates], "all_projector": [round(r) for r in rates],
            "counted": total, "expected": ROUNDS * events, "samples": ErrorLog.objects.count(),
        }
        client.delete(names.errors())
        connection.close()
        out["soak"] = soak(client, names, pool, soak_s, start_ms + (ROUNDS + 1) * events)
        client.delete(names.errors())

        fill(client, names.errors(), encoded(replay_events, start_ms + (ROUNDS + 2) * events, pool))
        result = replay(client, for_alias("default"), names, conf.get(), consumer="bench-replay", batch=10_000)
        out["replay"] = {"events": result.events, "seconds": round(result.seconds, 2),
                         "per_s": round(result.events / result.seconds),
                         "counted": sum(ErrorGroup.objects.values_list("count", flat=True))}
        print(f"replay: {result.events:,} events in {result.seconds:.1f}s", file=sys.stderr)
    finally:
        from django.db import connections

        connections.close_all()
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        admin.close()
    return out


def soak(client: Any, names: Any, pool: list[dict], seconds: float, start_ms: int, rate: int = 5000) -> dict[str, Any]:
    """Produce `rate` events/s for `seconds` while the projector consumes; RSS sampled every second."""
    import redis

    from projector.loop import Projector
    from projector.store import for_alias

    projector = Projector(client, for_alias("default"), consumer="bench-soak")
    producer = redis.Redis.from_url(redis_url())
    payloads = encoded(rate, start_ms, pool)
    samples: list[float] = []
    stop = threading.Event()

    def produce() -> None:
        tick = time.monotonic()
        while not stop.is_set():
            fill(producer, names.errors(), payloads[: rate // 10])
            tick += 0.1
            stop.wait(max(0.0, tick - time.monotonic()))

    def watch() -> None:
        while not stop.wait(1.0):
            samples.append(rss_mb())
        projector.stop()

    threads = [threading.Thread(target=produce, daemon=True), threading.Thread(target=watch, daemon=True)]
    for t in threads:
        t.start()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    projector.run()
    for t in threads:
        t.join(5)
    warm = samples[len(samples) // 4 :] or samples or [0.0]
    growth = warm[-1] - warm[0]
    return {"seconds": seconds, "events": projector.stats.events, "rss_start_mb": round(warm[0], 1),
            "rss_end_mb": round(warm[-1], 1), "rss_max_mb": round(max(warm), 1), "growth_mb": round(growth, 1),
            "flat": growth <= max(8.0, warm[0] * 0.05)}


# -- the report ------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(out: dict[str, Any]) -> str:
    t, r, s = out["throughput"], out["replay"], out["soak"]
    ratio = t["projector_per_s"] / t["raw_ceiling_per_s"]
    replay_1m_s = r["seconds"] * REPLAY_REFERENCE / max(1, r["events"])
    lines = [
        f"end to end ({t['events_per_round']:,} events x {ROUNDS} rounds, {FINGERPRINTS} fingerprints, PostgreSQL):",
        f"  raw ceiling      {t['raw_ceiling_per_s']:>10,} events/s   (rounds: {t['all_raw']})",
        f"  projector        {t['projector_per_s']:>10,} events/s   (rounds: {t['all_projector']})",
        f"  counted {t['counted']:,} of {t['expected']:,}; {t['samples']:,} samples stored",
        f"  {verdict(t['projector_per_s'] >= TARGET_RATE)}  >= {TARGET_RATE:,} events/s",
        f"  {verdict(ratio >= TARGET_RATIO)}  {ratio:.0%} of the raw ceiling (target >= {TARGET_RATIO:.0%})",
        f"replay: {r['events']:,} events in {r['seconds']} s ({r['per_s']:,}/s; counted {r['counted']:,})",
        f"  {verdict(replay_1m_s < TARGET_REPLAY_S)}  1,000,000 events in {replay_1m_s:.1f} s"
        + (" (extrapolated)" if r["events"] != REPLAY_REFERENCE else "") + f" (target < {TARGET_REPLAY_S:.0f} s)",
        f"soak: {s['seconds']:.0f} s, {s['events']:,} events, RSS {s['rss_start_mb']} -> {s['rss_end_mb']} MB "
        f"(max {s['rss_max_mb']})",
        f"  {verdict(s['flat'])}  memory flat after warm-up (growth {s['growth_mb']} MB)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the measurements in a fresh process, print them with PASS/FAIL; exit 0 whatever the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=env_int("BENCH_PROJECTOR_EVENTS", 100_000))
    parser.add_argument("--replay-events", type=int, default=env_int("BENCH_REPLAY_EVENTS", REPLAY_REFERENCE))
    parser.add_argument("--soak-s", type=float, default=float(os.environ.get("BENCH_SOAK_S") or 30))
    parser.add_argument("--output", type=Path, default=Path(os.environ.get("BENCH_OUTPUT") or RESULTS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.events, args.replay_events, args.soak_s)))
        return 0
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.projector", "--worker", "--events", str(args.events),
         "--replay-events", str(args.replay_events), "--soak-s", str(args.soak_s)],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    sys.stderr.write(proc.stderr[-3000:])
    if proc.returncode != 0:
        print(f"bench.projector could not run (PostgreSQL or Redis missing?): exit {proc.returncode}")
        return 0
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(report(out))
    document = {"benchmark": "projector", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "seconds": round(time.monotonic() - started, 1), **out}
    bench_report.save(args.output, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
