"""Error storm: wrk at the site's top rate of one 404, with and without capture; counts exact, p99 flat, XADDs bounded."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "storm.json"
LUA = Path(__file__).resolve().parent / "rig" / "storm.lua"
SITE_SETTINGS = {"plain": "bench.rig.settings_storm_plain", "capture": "bench.rig.settings_storm"}
PROJECTOR_SETTINGS = "bench.rig.settings_storm_projector"
ERROR_PATH, HEALTHY_PATH = "/pets/999/", "/pets/7/"
DEFAULT_SECONDS = 60
DEFAULT_ROUNDS = 2
CONNECTIONS = 4
WORKERS = 2
# wrk asks for the healthy page for the last TAIL_S of its run, so every error request it sent was answered.
TAIL_S = 0.5
TARGET_P99_RATIO = 1.10
TARGET_XADD_PER_S = 300
COALESCING = ("COALESCE_WINDOW_S", "COALESCE_FULL", "MAX_EVENTS_PER_S")
# Environment variables that would change what the children measure.
CHILD_ENV_DROP = ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "ERROR_MONITORING_ENABLED", "ERROR_AUTO_BUG_THRESHOLD")


# -- pure parts ------------------------------------------------------------------------------------

def plan(rounds: int) -> list[str]:
    """The order of the storms: plain, capture, capture, plain, ... (each configuration first as often)."""
    order: list[str] = []
    for i in range(rounds):
        order += ["plain", "capture"] if i % 2 == 0 else ["capture", "plain"]
    return order


def parse_wrk(stdout: str) -> dict[str, Any]:
    """The counts and the 1,000 latency quantiles (µs) printed by bench/rig/storm.lua."""
    out: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("STORM-SUMMARY "):
            out.update({k: int(v) for k, v in (part.split("=") for part in line.split()[1:])})
        elif line.startswith("STORM-QUANTILES "):
            out["quantiles"] = [int(float(v)) for v in line.split(" ", 1)[1].split(",")]
    if "requests" not in out or len(out.get("quantiles", ())) != 1000:
        raise ValueError(f"wrk did not print the storm summary:\n{stdout[-2000:]}")
    out["socket_errors"] = sum(out[k] for k in ("connect", "read", "write", "timeout"))
    return out


def merged_percentile(runs: list[dict[str, Any]], q: float) -> float:
    """The q-th percentile (µs) of several wrk runs together, each run's quantiles weighted by its requests."""
    points = sorted((value, run["requests"] / 1000) for run in runs for value in run["quantiles"])
    total = sum(weight for _, weight in points)
    if not total:
        raise ValueError("no requests")
    seen = 0.0
    for value, weight in points:
        seen += weight
        if seen >= total * q / 100:
            return float(value)
    return float(points[-1][0])


def xadd_bound(processes: int, seconds: float, window_s: float, full: int, patterns: int = 1) -> int:
    """Most XADDs coalescing allows: per process and pattern, (full + 1) per window, windows <= seconds/window + 1."""
    return processes * patterns * (full + 1) * (int(seconds / window_s) + 1)


def summarise(config: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency, rate and CPU of one configuration over its rounds."""
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    out = {
        "rounds": len(runs),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["status"] for r in runs),
        "requests_per_s": round(sum(r["requests"] for r in runs) / seconds, 1),
        "errors_per_s": round(sum(r["status"] for r in runs) / sum(r["error_phase_s"] for r in runs), 1),
        "p50_us": merged_percentile(runs, 50),
        "p90_us": merged_percentile(runs, 90),
        "p99_us": merged_percentile(runs, 99),
        "p99_9_us": merged_percentile(runs, 99.9),
        "round_p50_us": [merged_percentile([r], 50) for r in runs],
        "round_p99_us": [merged_percentile([r], 99) for r in runs],
        "socket_errors": sum(r["socket_errors"] for r in runs),
    }
    cpu = [r["worker_cpu_s"] / r["requests"] * 1e6 for r in runs if r.get("worker_cpu_s") is not None and r["requests"]]
    if cpu:
        out["worker_cpu_us_per_request"] = round(sum(cpu) / len(cpu), 1)
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def analyse(runs: list[dict[str, Any]], capture_settings: dict[str, Any]) -> dict[str, Any]:
    """Per-configuration figures, the ratios and the three targets."""
    by_config = {c: [r for r in runs if r["config"] == c and not r.get("scan")] for c in ("plain", "capture")}
    summary = {c: summarise(c, rs) for c, rs in by_config.items() if rs}
    plain, capture = summary["plain"], summary["capture"]
    ratios = {stat: round(capture[stat] / plain[stat], 3) for stat in ("p50_us", "p99_us", "requests_per_s")}
    storms = by_config["capture"]
    xadd_rate = max(r["xadd_per_s"] for r in storms)
    lost = sum(max(0, r["status"] - r["counted"]["count"]) for r in storms)
    extra = sum(max(0, r["counted"]["count"] - r["status"]) for r in storms)
    exact = all(r["status"] == r["counted"]["count"] == r["counted"]["hourly"] == r["counted"]["class_hourly"]
                for r in storms)
    targets = [
        {"name": f"p99 latency with capture within {TARGET_P99_RATIO - 1:.0%} of the same storm without",
         "value": ratios["p99_us"], "limit": TARGET_P99_RATIO, "verdict": verdict(ratios["p99_us"] <= TARGET_P99_RATIO)},
        {"name": f"XADDs per second at most {TARGET_XADD_PER_S} (the busiest capture round)",
         "value": xadd_rate, "limit": TARGET_XADD_PER_S, "verdict": verdict(xadd_rate <= TARGET_XADD_PER_S)},
        {"name": "error responses lost: PostgreSQL counts (groups, hourly, per class) equal what wrk received",
         "value": lost, "limit": 0, "verdict": verdict(lost == 0 and extra == 0 and exact)},
    ]
    out = {"summary": summary, "ratios": ratios, "lost": lost, "extra": extra, "targets": targets,
           "capture_settings": capture_settings}
    scans = [r for r in runs if r.get("scan")]
    if scans:
        scan = scans[0]
        out["scan"] = {"errors": scan["status"], "errors_per_s": round(scan["status"] / scan["error_phase_s"], 1),
                       "xadd_calls": scan["xadd_calls"], "xadd_per_s": scan["xadd_per_s"],
                       "xadds_per_error": round(scan["xadd_calls"] / max(1, scan["status"]), 3),
                       "groups": scan["counted"]["groups"], "counted": scan["counted"]["count"],
                       "lost": scan["status"] - scan["counted"]["count"]}
    return out


# -- services (each started process is stopped by its own id) -------------------------------------------

def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll check() until it holds; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s} s")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM the process we started, then SIGKILL its process group if it is still there."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: gunicorn's workers go with it
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(10)


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), so its command stats are only ours."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        self.client = redis.Redis.from_url(self.url, socket_timeout=5)
        wait_until(self._answers, 20, "redis-server")

    def _answers(self) -> bool:
        import redis

        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False

    def xadd_calls(self) -> int:
        """XADDs this server executed since the last CONFIG RESETSTAT."""
        return int(self.client.info("commandstats").get("cmdstat_xadd", {}).get("calls", 0))

    def stop(self) -> None:
        self.client.close()
        stop_process(self.proc, 10)


def pg_params() -> dict[str, Any]:
    """The PostgreSQL server (BENCH_PG* or the test suite's ERRORTRAIL_TEST_PG* variables, else local defaults)."""
    def get(name: str, default: str) -> str:
        return os.environ.get(f"BENCH_PG{name}") or os.environ.get(f"ERRORTRAIL_TEST_PG{name}") or default

    return {"host": get("HOST", "127.0.0.1"), "port": int(get("PORT", "5432")), "user": get("USER", "postgres"),
            "dbname": get("DATABASE", "test")}


def pg_sql(sql: str) -> None:
    """One statement on the maintenance database, outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(**pg_params(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def missing() -> str | None:
    """Why the storm cannot run here (wrk, redis-server or PostgreSQL missing), or None."""
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        pg_sql("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL does not answer ({exc})"
    return None


class Site:
    """gunicorn with WORKERS sync workers serving the bench app under one settings module."""

    def __init__(self, settings: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
                 "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "20", "--log-level", "info",
                 "django.core.wsgi:get_wsgi_application()"],
                cwd=REPO, env={**env, "DJANGO_SETTINGS_MODULE": settings}, stdout=out, stderr=out,
                start_new_session=True,
            )
        wait_until(self._answers, 60, "gunicorn")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + HEALTHY_PATH, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def workers(self) -> list[int]:
        """Pids of the master's children (the workers) right now."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def worker_cpu_s(self) -> float | None:
        """CPU seconds (user + system) the current workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        pids = self.workers()
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / ticks if pids else None

    def boots(self) -> int:
        """Worker processes gunicorn has started so far (restarts included)."""
        return self.log.read_text(errors="replace").count("Booting worker")

    def stop(self) -> None:
        stop_process(self.proc)


def run_wrk(url: str, seconds: float, connections: int, scan: bool = False) -> dict[str, Any]:
    """One storm: one wrk thread, `connections` connections, the error URL (or new ones: scan) then TAIL_S healthy."""
    duration = int(seconds + TAIL_S + 0.999)
    env = {**os.environ, "STORM_ERROR_S": str(duration - TAIL_S), "STORM_ERROR_PATH": ERROR_PATH,
           "STORM_HEALTHY_PATH": HEALTHY_PATH, "STORM_UNIQUE_PATHS": "1" if scan else "0"}
    proc = subprocess.run(
        ["wrk", "--threads", "1", "--connections", str(connections), "--duration", f"{duration}s", "--timeout", "10s",
         "--script", str(LUA), url],
        env=env, capture_output=True, text=True, timeout=duration + 60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = parse_wrk(proc.stdout)
    out["error_phase_s"] = duration - TAIL_S
    return out


def warm_up(url: str) -> None:
    """A second of healthy requests, so both workers have loaded the URLconf and templates before the storm."""
    subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", "-d1s", url + HEALTHY_PATH], capture_output=True, timeout=60)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of the site and projector processes: ours without settings that would change them."""
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP and not k.startswith("ERRORTRAIL_")}
    for name in ("HOST", "PORT", "USER"):
        env[f"BENCH_PG{name}"] = str(pg_params()[name.lower()])
    return {**env, "PYTHONPATH": str(REPO), **extra}


def project(env: dict[str, str], log: Path) -> dict[str, Any]:
    """run_projector --until-idle on the storm's stream, then the totals in PostgreSQL."""
    with open(log, "ab") as out:
        subprocess.run([sys.executable, "-m", "django", "run_projector", "--until-idle", "--consumer", "storm"],
                       cwd=REPO, env={**env, "DJANGO_SETTINGS_MODULE": PROJECTOR_SETTINGS}, stdout=out, stderr=out,
                       timeout=600, check=True)
    proc = subprocess.run([sys.executable, "-m", "bench.storm", "--counts"], cwd=REPO, capture_output=True, text=True,
                          env={**env, "DJANGO_SETTINGS_MODULE": PROJECTOR_SETTINGS}, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def counts() -> dict[str, int]:
    """Totals of the projections (run with DJANGO_SETTINGS_MODULE set to the projector's settings)."""
    import django

    django.setup()
    from django.db.models import Sum

    from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog

    def total(model: Any, field: str = "count") -> int:
        return int(model.objects.aggregate(n=Sum(field))["n"] or 0)

    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for model in (ErrorGroup, ErrorLog, ErrorHourly, ClassHourly):
            cursor.execute("SELECT pg_total_relation_size(%s), count(*) FROM " + connection.ops.quote_name(
                model._meta.db_table), [model._meta.db_table])
            size, rows = cursor.fetchone()
            sizes[model.__name__] = {"rows": rows, "bytes": size}
    return {"groups": ErrorGroup.objects.count(), "count": total(ErrorGroup), "hourly": total(ErrorHourly),
            "class_hourly": total(ClassHourly), "samples": ErrorLog.objects.count(),
            "sample_weights": total(ErrorLog, "weight"), "tables": sizes}


# -- one run ---------------------------------------------------------------------------------------

class Storms:
    """The bench's services: a private Redis, a migrated template database, a work directory; closed in finally."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.tag = uuid.uuid4().hex[:8]
        self.template = f"errortrail_storm_{self.tag}_tpl"
        self.databases: list[str] = []
        self.redis: PrivateRedis | None = None
        self.runs = 0

    def __enter__(self) -> Storms:
        try:
            self.redis = PrivateRedis(self.workdir)
            pg_sql(f'CREATE DATABASE "{self.template}"')
            self.databases.append(self.template)
            env = child_env({"BENCH_DB_NAME": self.template, "BENCH_REDIS_URL": self.redis.url})
            subprocess.run([sys.executable, "-m", "django", "migrate", "--verbosity", "0"], cwd=REPO, check=True,
                           env={**env, "DJANGO_SETTINGS_MODULE": PROJECTOR_SETTINGS}, timeout=300)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        for name in self.databases:
            try:
                pg_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # keep cleaning up the rest
                print(f"could not drop database {name}: {exc}", file=sys.stderr)
        self.databases.clear()

    def storm(self, config: str, seconds: float, connections: int = CONNECTIONS, scan: bool = False) -> dict[str, Any]:
        """One storm against a fresh site; with capture, its counts once the projector has drained the stream."""
        assert self.redis is not None
        self.runs += 1
        run = f"{config}{'-scan' if scan else ''}{self.runs}"
        prefix = f"errortrail-storm-{self.tag}-{run}:"
        db_name = f"errortrail_storm_{self.tag}_{run}"
        spool = self.workdir / f"spool-{run}"
        env = child_env({"BENCH_REDIS_URL": self.redis.url, "BENCH_PREFIX": prefix, "BENCH_SPOOL_DIR": str(spool),
                         "BENCH_DB_NAME": db_name})
        log = self.workdir / f"{run}.log"
        site = Site(SITE_SETTINGS[config], env, log)
        try:
            warm_up(site.url)
            self.redis.client.config_resetstat()
            cpu_before = site.worker_cpu_s()
            result = run_wrk(site.url, seconds, connections, scan)
            cpu_after = site.worker_cpu_s()
            boots = site.boots()
        finally:
            site.stop()
        result.update(config=config, scan=scan, connections=connections, worker_boots=boots,
                      worker_cpu_s=None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 3))
        said = [line for line in log.read_text(errors="replace").splitlines() if "errortrail" in line or "Traceback" in line]
        result["site_log_lines"] = said[-20:]
        if config == "capture":
            result.update(self._delivery(prefix))
            pg_sql(f'CREATE DATABASE "{db_name}" TEMPLATE "{self.template}"')
            self.databases.append(db_name)
            result["counted"] = project(env, log)
            result.update(self._after_projection(prefix))
        return result

    def _delivery(self, prefix: str) -> dict[str, Any]:
        assert self.redis is not None
        client = self.redis.client
        calls = self.redis.xadd_calls()
        decode = lambda h: {k.decode(): int(v) for k, v in h.items()}  # noqa: E731
        stream = f"{prefix}errors"
        return {"xadd_calls": calls, "stream_length": client.xlen(stream),
                "stream_memory_bytes": client.memory_usage(stream, samples=0) or 0,
                "capture_stats": decode(client.hgetall(f"{prefix}capture:stats")),
                "capture_drops": decode(client.hgetall(f"{prefix}capture:drops"))}

    def _after_projection(self, prefix: str) -> dict[str, Any]:
        assert self.redis is not None
        client = self.redis.client
        pending = client.xpending(f"{prefix}errors", "projector")["pending"]
        return {"pending_after_projection": pending, "dead_letters": client.xlen(f"{prefix}dead")}


def capture_settings() -> dict[str, Any]:
    """The coalescing settings the capture storms run with (capture's defaults)."""
    from capture.conf import SETTINGS

    return {s.name: s.default for s in SETTINGS if s.name in COALESCING}


def measure(seconds: float, rounds: int, scan_seconds: float, workdir: Path) -> list[dict[str, Any]]:
    """Every storm of the plan (then the scan storm), each with capture followed by the projector and the count check."""
    settings = capture_settings()
    storms_planned = [(config, seconds, False) for config in plan(rounds)]
    if scan_seconds > 0:
        storms_planned.append(("capture", scan_seconds, True))
    runs = []
    with Storms(workdir) as storms:
        for number, (config, length, scan) in enumerate(storms_planned, 1):
            print(f"  storm {number}/{len(storms_planned)}: {config}{' (scan: every URL new)' if scan else ''}, "
                  f"{length:g} s", file=sys.stderr, flush=True)
            result = storms.storm(config, length, scan=scan)
            if config == "capture":
                result["xadd_per_s"] = round(result["xadd_calls"] / result["error_phase_s"], 1)
                result["xadd_bound"] = xadd_bound(result["worker_boots"], result["error_phase_s"],
                                                  settings["COALESCE_WINDOW_S"], settings["COALESCE_FULL"],
                                                  patterns=result["counted"]["groups"])
            runs.append(result)
    return runs


# -- report ----------------------------------------------------------------------------------------

def report(doc: dict[str, Any]) -> str:
    """The printed table, the per-round counts and the verdicts."""
    s, ratios = doc["summary"], doc["ratios"]
    cfg = doc["capture_settings"]
    lines = ["", f"error storm: wrk, 1 thread, {CONNECTIONS} connections, GET {ERROR_PATH} (404) against gunicorn "
             f"({WORKERS} sync workers), {doc['seconds_per_storm']:g} s per storm, {doc['rounds']} round(s) each",
             f"capture: COALESCE_WINDOW_S {cfg['COALESCE_WINDOW_S']}, COALESCE_FULL {cfg['COALESCE_FULL']}, "
             f"MAX_EVENTS_PER_S {cfg['MAX_EVENTS_PER_S']}; private redis-server, PostgreSQL", "",
             f"{'':22}{'without':>12}{'with capture':>14}{'ratio':>8}"]
    rows = [("requests/s", "requests_per_s", "{:,.0f}"), ("errors/s", "errors_per_s", "{:,.0f}"),
            ("p50 latency (µs)", "p50_us", "{:,.0f}"), ("p90 latency (µs)", "p90_us", "{:,.0f}"),
            ("p99 latency (µs)", "p99_us", "{:,.0f}"), ("p99.9 latency (µs)", "p99_9_us", "{:,.0f}"),
            ("worker CPU/request (µs)", "worker_cpu_us_per_request", "{:,.0f}")]
    for title, key, fmt in rows:
        if key in s["plain"] and key in s["capture"]:
            a, b = s["plain"][key], s["capture"][key]
            lines.append(f"{title:22}{fmt.format(a):>12}{fmt.format(b):>14}{b / a:>8.3f}")
    lines.append(f"{'p99 per round (µs)':22}{str(s['plain']['round_p99_us']):>12} {str(s['capture']['round_p99_us'])}")
    lines.append("")
    for r in (r for r in doc["runs"] if r["config"] == "capture"):
        c = r["counted"]
        lines.append(f"capture {'scan ' if r['scan'] else ''}storm: wrk received {r['status']:,} error responses ({r['requests']:,} requests, "
                     f"{r['socket_errors']} socket errors); PostgreSQL counts {c['count']:,} (hourly {c['hourly']:,}, "
                     f"per class {c['class_hourly']:,}) in {c['groups']} group(s), {c['samples']} samples")
        lines.append(f"  XADDs {r['xadd_calls']:,} ({r['xadd_per_s']:.1f}/s; coalescing bound {r['xadd_bound']:,} for "
                     f"{r['worker_boots']} worker processes), stream length {r['stream_length']:,}, pending after the "
                     f"projector {r['pending_after_projection']}, dead letters {r['dead_letters']}, "
                     f"drops {r['capture_drops'] or '{}'}")
    lines += ["", "targets (issue 7, error storms):"]
    for t in doc["targets"]:
        lines.append(f"  {t['verdict']:4}  {t['name']}: {t['value']} (limit {t['limit']})")
    if "scan" in doc:
        sc = doc["scan"]
        lines.append(f"  info  scan storm (every URL a new pattern, no target): {sc['xadd_per_s']:,.0f} XADDs/s for "
                     f"{sc['errors_per_s']:,.0f} errors/s ({sc['xadds_per_error']} per error), {sc['groups']:,} groups, "
                     f"lost {sc['lost']}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """CPU count and model, load average."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg": list(os.getloadavg()),
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    """Run the storms, print the report and PASS/FAIL, write bench/results/storm.json; exit 0 whatever the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_STORM_SECONDS") or DEFAULT_SECONDS))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_STORM_ROUNDS") or DEFAULT_ROUNDS))
    parser.add_argument("--scan-seconds", type=float, default=None,
                        help="Length of the scan storm (every URL new); default a third of --seconds, 0 to skip.")
    parser.add_argument("--output", type=Path, default=Path(os.environ.get("BENCH_OUTPUT") or RESULTS))
    parser.add_argument("--counts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.counts:
        print(json.dumps(counts()))
        return 0
    problem = missing()
    if problem:
        print(f"{problem}: skipping the storm benchmark.", file=sys.stderr)
        return 0
    started = time.monotonic()
    load_before = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="errortrail-storm-") as workdir:
        scan_s = args.scan_seconds
        if scan_s is None:
            scan_s = float(os.environ.get("BENCH_STORM_SCAN_SECONDS") or args.seconds / 3)
        runs = measure(args.seconds, args.rounds, scan_s, Path(workdir))
    analysis = analyse(runs, capture_settings())
    for run in runs:
        quantiles = run.pop("quantiles")
        run["latency_us"] = {f"p{q:g}": quantiles[round(q * 10 - 0.5)] for q in (50, 90, 99, 99.9)}
    doc = {"benchmark": "storm", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {**machine(), "loadavg_before": load_before}, "seconds_per_storm": args.seconds,
           "rounds": args.rounds, "scan_seconds": scan_s, "connections": CONNECTIONS, "workers": WORKERS, **analysis, "runs": runs}
    doc["seconds"] = round(time.monotonic() - started, 1)
    print(report(doc))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwritten to {args.output} in {doc['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
