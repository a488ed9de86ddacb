"""Error storm: wrk at the site's top rate of one 404, with and without capture: exact counts, p99, XADDs."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report as bench_report
from bench.rig import wrk
from bench.rig.services import REPO, WORKERS, PrivateRedis, Site, machine, missing, pg_params, pg_sql


RESULTS = Path(__file__).resolve().parent / "results" / "storm.json"
SITE_SETTINGS = {"plain": "bench.rig.settings_storm_plain", "capture": "bench.rig.settings_storm"}
PROJECTOR_SETTINGS = "bench.rig.settings_storm_projector"
DEFAULT_SECONDS = 60
DEFAULT_SLICE_S = 2
CONNECTIONS = 4
TARGET_P99_RATIO = 1.10
TARGET_XADD_PER_S = 300
COALESCING = ("COALESCE_WINDOW_S", "COALESCE_FULL", "MAX_EVENTS_PER_S")
# Environment variables that would change what the children measure.
CHILD_ENV_DROP = ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "ERROR_MONITORING_ENABLED", "ERROR_AUTO_BUG_THRESHOLD")


# -- pure parts ------------------------------------------------------------------------------------

def order(slices: int) -> list[str]:
    """Slices of the alternating storm: plain, capture, capture, plain, ... (each first as often)."""
    out: list[str] = []
    for i in range(slices):
        out += ["plain", "capture"] if i % 2 == 0 else ["capture", "plain"]
    return out


def xadd_bound(processes: int, seconds: float, window_s: float, full: int, patterns: int = 1) -> int:
    """Most XADDs coalescing allows: per process and pattern, (full + 1) per window, windows <= seconds/window + 1."""
    return processes * patterns * (full + 1) * (int(seconds / window_s) + 1)


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """Rate, latency percentiles and worker CPU of one site's storm (all its wrk slices together)."""
    slices = run["slices"]
    out = {
        "slices": len(slices), "requests": run["requests"], "errors": run["status"],
        "errors_per_s": round(run["status"] / run["error_phase_s"], 1),
        **{f"p{q:g}_us".replace(".", "_"): wrk.merged_percentile(slices, q) for q in (50, 90, 99, 99.9)},
        "max_us": run["max_us"], "socket_errors": run["socket_errors"],
        "slice_p99_us": [wrk.merged_percentile([one], 99) for one in slices],
    }
    if run.get("worker_cpu_s") is not None and run["requests"]:
        out["worker_cpu_us_per_request"] = round(run["worker_cpu_s"] / run["requests"] * 1e6, 1)
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def analyse(runs: list[dict[str, Any]], capture_settings: dict[str, Any]) -> dict[str, Any]:
    """Both configurations of the alternating storm side by side, the ratios, and the three targets."""
    alternating = {r["config"]: r for r in runs if r["kind"] == "alternating"}
    summary = {config: summarise(run) for config, run in alternating.items()}
    plain, capture = summary["plain"], summary["capture"]
    ratios = {stat: round(capture[stat] / plain[stat], 3) for stat in ("p50_us", "p99_us", "p99_9_us", "errors_per_s")}
    if "worker_cpu_us_per_request" in plain and "worker_cpu_us_per_request" in capture:
        ratios["worker_cpu_us_per_request"] = round(
            capture["worker_cpu_us_per_request"] / plain["worker_cpu_us_per_request"], 3)
    # Slice i of each configuration ran next to the other's slice i: their p99s met the same neighbours.
    pairs = list(zip(plain["slice_p99_us"], capture["slice_p99_us"]))
    ratios["slice_pairs_capture_p99_higher"] = sum(c > p for p, c in pairs)
    ratios["slice_pairs"] = len(pairs)
    ratios["slice_pair_p99_ratio_median"] = round(statistics.median(c / p for p, c in pairs), 3)
    p99_ratio = ratios["slice_pair_p99_ratio_median"]
    storms = [r for r in runs if r["config"] == "capture"]
    bounded = [r for r in storms if r["kind"] != "scan"]
    xadd_rate = max(r["xadd_per_s"] for r in bounded)
    lost = sum(max(0, r["status"] - r["counted"]["count"]) for r in storms)
    extra = sum(max(0, r["counted"]["count"] - r["status"]) for r in storms)
    exact = all(r["status"] == r["counted"]["count"] == r["counted"]["hourly"] == r["counted"]["class_hourly"]
                for r in storms)
    targets = [
        {"name": f"p99 latency with capture within {TARGET_P99_RATIO - 1:.0%} of the same storm without "
                 "(median ratio over neighbouring slices)",
         "value": p99_ratio, "limit": TARGET_P99_RATIO, "verdict": verdict(p99_ratio <= TARGET_P99_RATIO)},
        {"name": f"XADDs per second at most {TARGET_XADD_PER_S} (the busier one-URL capture storm)",
         "value": xadd_rate, "limit": TARGET_XADD_PER_S, "verdict": verdict(xadd_rate <= TARGET_XADD_PER_S)},
        {"name": "error responses lost: PostgreSQL counts (groups, hourly, per class) equal what wrk received",
         "value": lost, "limit": 0, "verdict": verdict(lost == 0 and extra == 0 and exact)},
    ]
    out = {"summary": summary, "ratios": ratios, "lost": lost, "extra": extra, "targets": targets,
           "capture_settings": capture_settings}
    scan = next((r for r in runs if r["kind"] == "scan"), None)
    if scan:
        out["scan"] = {"errors": scan["status"], "errors_per_s": round(scan["status"] / scan["error_phase_s"], 1),
                       "xadd_calls": scan["xadd_calls"], "xadd_per_s": scan["xadd_per_s"],
                       "xadds_per_error": round(scan["xadd_calls"] / max(1, scan["status"]), 3),
                       "groups": scan["counted"]["groups"], "counted": scan["counted"]["count"],
                       "lost": scan["status"] - scan["counted"]["count"]}
    return out


# -- the storms ------------------------------------------------------------------------------------

def capture_settings() -> dict[str, Any]:
    """The coalescing settings the capture storms run with (capture's defaults)."""
    from capture.conf import SETTINGS

    return {s.name: s.default for s in SETTINGS if s.name in COALESCING}


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of the site and projector processes: ours without settings that would change them."""
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP and not k.startswith("ERRORTRAIL_")}
    for name in ("HOST", "PORT", "USER"):
        env[f"BENCH_PG{name}"] = str(pg_params()[name.lower()])
    return {**env, "PYTHONPATH": str(REPO), **extra}


def counts() -> dict[str, Any]:
    """Totals and sizes of the projections (run with DJANGO_SETTINGS_MODULE set to the projector's settings)."""
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Sum

    from projector.models import ClassHourly, ErrorGroup, ErrorHourly, ErrorLog

    def total(model: Any, column: str = "count") -> int:
        return int(model.objects.aggregate(n=Sum(column))["n"] or 0)

    tables = {}
    with connection.cursor() as cursor:
        for model in (ErrorGroup, ErrorLog, ErrorHourly, ClassHourly):
            name = model._meta.db_table
            table = connection.ops.quote_name(name)
            cursor.execute(f"SELECT pg_total_relation_size(%s), count(*) FROM {table}", [name])
            size, rows = cursor.fetchone()
            tables[model.__name__] = {"rows": rows, "bytes": size}
    return {"groups": ErrorGroup.objects.count(), "count": total(ErrorGroup), "hourly": total(ErrorHourly),
            "class_hourly": total(ClassHourly), "samples": ErrorLog.objects.count(),
            "sample_weights": total(ErrorLog, "weight"), "tables": tables}


@dataclass
class SiteRun:
    """One gunicorn site under storm: where it publishes, and the wrk runs against it so far."""

    config: str
    kind: str
    site: Site
    env: dict[str, str]
    prefix: str
    db_name: str
    log: Path
    cpu_start: float | None
    slices: list[dict[str, Any]] = field(default_factory=list)
    first_start: float = 0.0
    last_end: float = 0.0


class Storms:
    """The bench's services: a private Redis, a migrated template database, a work directory; closed in finally."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.tag = uuid.uuid4().hex[:8]
        self.template = f"errortrail_storm_{self.tag}_tpl"
        self.databases: list[str] = []
        self.redis: PrivateRedis | None = None
        self.sites: list[Site] = []
        self.count = 0

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
        """Stop every process started here and drop every database made here."""
        for site in self.sites:
            site.stop()
        self.sites.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        for name in self.databases:
            try:
                pg_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # keep cleaning up the rest
                print(f"could not drop database {name}: {exc}", file=sys.stderr)
        self.databases.clear()

    def open(self, config: str, kind: str) -> SiteRun:
        """A fresh gunicorn for one configuration, warmed up; capture's XADD count starts from zero."""
        assert self.redis is not None
        self.count += 1
        name = f"{config}-{kind}-{self.count}"
        prefix = f"errortrail-storm-{self.tag}-{self.count}:"
        db_name = f"errortrail_storm_{self.tag}_{self.count}"
        env = child_env({"BENCH_REDIS_URL": self.redis.url, "BENCH_PREFIX": prefix, "BENCH_DB_NAME": db_name,
                         "BENCH_SPOOL_DIR": str(self.workdir / f"spool-{name}")})
        log = self.workdir / f"{name}.log"
        site = Site(SITE_SETTINGS[config], env, log)
        self.sites.append(site)
        wrk.warm_up(site.url, CONNECTIONS)
        if config == "capture":
            self.redis.client.config_resetstat()
        return SiteRun(config, kind, site, env, prefix, db_name, log, site.worker_cpu_s())

    def hit(self, run: SiteRun, seconds: float, scan: bool = False) -> None:
        """One wrk run against the site."""
        started = time.monotonic()
        run.slices.append(wrk.run(run.site.url, seconds, CONNECTIONS, scan))
        run.first_start = run.first_start or started
        run.last_end = time.monotonic()

    def finish(self, run: SiteRun) -> dict[str, Any]:
        """Stop the site (workers flush what they hold at exit); with capture, project and count."""
        cpu_end, boots = run.site.worker_cpu_s(), run.site.boots()
        run.site.stop()
        self.sites.remove(run.site)
        slices = run.slices
        result: dict[str, Any] = {
            "config": run.config, "kind": run.kind, "connections": CONNECTIONS, "worker_boots": boots,
            "worker_cpu_s": None if run.cpu_start is None or cpu_end is None else round(cpu_end - run.cpu_start, 3),
            "storm_span_s": round(run.last_end - run.first_start, 2),
            **{k: sum(s[k] for s in slices) for k in ("requests", "status", "socket_errors", "sent_errors",
                                                      "answered_errors", "healthy_answers", "stopped_early")},
            "error_phase_s": sum(s["error_phase_s"] for s in slices), "max_us": max(s["max_us"] for s in slices),
            "slices": [{"requests": s["requests"], "quantiles": s["quantiles"]} for s in slices],
        }
        said = [line for line in run.log.read_text(errors="replace").splitlines()
                if "errortrail" in line or "Traceback" in line]
        result["site_log_lines"] = said[-20:]
        if run.config == "capture":
            result.update(self._delivery(run.prefix))
            pg_sql(f'CREATE DATABASE "{run.db_name}" TEMPLATE "{self.template}"')
            self.databases.append(run.db_name)
            result["counted"] = project(run.env, run.log)
            result.update(self._after_projection(run.prefix))
            cfg = capture_settings()
            result["xadd_per_s"] = round(result["xadd_calls"] / result["error_phase_s"], 1)
            result["xadd_bound"] = xadd_bound(boots, result["storm_span_s"], cfg["COALESCE_WINDOW_S"],
                                              cfg["COALESCE_FULL"], result["counted"]["groups"])
        return result

    def storm(self, config: str, seconds: float, scan: bool = False) -> dict[str, Any]:
        """One continuous storm against a fresh site."""
        run = self.open(config, "scan" if scan else "continuous")
        self.hit(run, seconds, scan)
        return self.finish(run)

    def alternate(self, seconds: float, slice_s: float) -> list[dict[str, Any]]:
        """Both sites up; wrk alternates between them slice by slice, so a noisy neighbour hits both alike."""
        runs = {config: self.open(config, "alternating") for config in ("plain", "capture")}
        for config in order(max(1, round(seconds / wrk.durations(slice_s)[1]))):
            self.hit(runs[config], slice_s)
        return [self.finish(runs["plain"]), self.finish(runs["capture"])]

    def _delivery(self, prefix: str) -> dict[str, Any]:
        assert self.redis is not None
        client, stream = self.redis.client, f"{prefix}errors"

        def numbers(key: str) -> dict[str, int]:
            return {k.decode(): int(v) for k, v in client.hgetall(key).items()}

        return {"xadd_calls": self.redis.xadd_calls(), "stream_length": client.xlen(stream),
                "stream_memory_bytes": client.memory_usage(stream, samples=0) or 0,
                "capture_stats": numbers(f"{prefix}capture:stats"), "capture_drops": numbers(f"{prefix}capture:drops")}

    def _after_projection(self, prefix: str) -> dict[str, Any]:
        assert self.redis is not None
        client = self.redis.client
        return {"pending_after_projection": client.xpending(f"{prefix}errors", "projector")["pending"],
                "dead_letters": client.xlen(f"{prefix}dead")}


def project(env: dict[str, str], log: Path) -> dict[str, Any]:
    """run_projector --until-idle on the storm's stream, then the totals in PostgreSQL."""
    env = {**env, "DJANGO_SETTINGS_MODULE": PROJECTOR_SETTINGS}
    with open(log, "ab") as out:
        subprocess.run([sys.executable, "-m", "django", "run_projector", "--until-idle", "--consumer", "storm"],
                       cwd=REPO, env=env, stdout=out, stderr=out, timeout=600, check=True)
    proc = subprocess.run([sys.executable, "-m", "bench.storm", "--counts"], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(seconds: float, slice_s: float, scan_seconds: float, workdir: Path) -> list[dict[str, Any]]:
    """The alternating storm (latency), one continuous capture storm (the issue's storm), then the scan storm."""
    runs = []
    with Storms(workdir) as storms:
        print(f"  alternating storm: plain and capture, {seconds:g} s each in {slice_s:g} s slices",
              file=sys.stderr, flush=True)
        runs += storms.alternate(seconds, slice_s)
        print(f"  continuous capture storm: {seconds:g} s", file=sys.stderr, flush=True)
        runs.append(storms.storm("capture", seconds))
        if scan_seconds > 0:
            print(f"  scan storm (every URL new): {scan_seconds:g} s", file=sys.stderr, flush=True)
            runs.append(storms.storm("capture", scan_seconds, scan=True))
    return runs


# -- report ----------------------------------------------------------------------------------------

def report(doc: dict[str, Any]) -> str:
    """The printed table, the counts of every capture storm and the verdicts."""
    s, cfg = doc["summary"], doc["capture_settings"]
    lines = ["", f"error storm: wrk, 1 thread, {CONNECTIONS} connections, GET {wrk.ERROR_PATH} (404) against gunicorn "
             f"({WORKERS} sync workers) at the site's top rate; plain and capture alternate in "
             f"{doc['slice_seconds']:g} s slices, {doc['seconds_per_storm']:g} s each",
             f"capture: COALESCE_WINDOW_S {cfg['COALESCE_WINDOW_S']}, COALESCE_FULL {cfg['COALESCE_FULL']}, "
             f"MAX_EVENTS_PER_S {cfg['MAX_EVENTS_PER_S']}; private redis-server, PostgreSQL", "",
             f"{'':26}{'without':>10}{'with capture':>14}{'ratio':>8}"]
    rows = [("error responses/s", "errors_per_s"), ("p50 latency (µs)", "p50_us"), ("p90 latency (µs)", "p90_us"),
            ("p99 latency (µs)", "p99_us"), ("p99.9 latency (µs)", "p99_9_us"), ("max latency (µs)", "max_us"),
            ("worker CPU/request (µs)", "worker_cpu_us_per_request")]
    for title, key in rows:
        if key in s["plain"] and key in s["capture"]:
            a, b = s["plain"][key], s["capture"][key]
            lines.append(f"{title:26}{a:>10,.0f}{b:>14,.0f}{b / a:>8.3f}")
    r = doc["ratios"]
    lines.append(f"p99 slice by slice (plain and capture slices next to each other in time): capture higher in "
                 f"{r['slice_pairs_capture_p99_higher']} of {r['slice_pairs']} pairs, median ratio "
                 f"{r['slice_pair_p99_ratio_median']}")
    lines.append("")
    for r in (r for r in doc["runs"] if r["config"] == "capture"):
        c = r["counted"]
        lines.append(f"capture, {r['kind']} ({r['error_phase_s']:g} s of errors): wrk received {r['status']:,} error "
                     f"responses ({r['socket_errors']} socket errors); PostgreSQL counts {c['count']:,} (hourly "
                     f"{c['hourly']:,}, per class {c['class_hourly']:,}) in {c['groups']:,} group(s), "
                     f"{c['samples']:,} samples")
        lines.append(f"  XADDs {r['xadd_calls']:,} ({r['xadd_per_s']:,.1f}/s; coalescing bound {r['xadd_bound']:,} for "
                     f"{r['worker_boots']} worker processes), stream {r['stream_length']:,} entries "
                     f"{r['stream_memory_bytes']:,} B, pending after the projector {r['pending_after_projection']}, "
                     f"dead letters {r['dead_letters']}, drops {r['capture_drops'] or '{}'}")
    lines += ["", "targets (issue 7, error storms):"]
    for t in doc["targets"]:
        lines.append(f"  {t['verdict']:4}  {t['name']}: {t['value']} (limit {t['limit']})")
    if "scan" in doc:
        sc = doc["scan"]
        lines.append(f"  info  scan storm (every URL a new pattern, no target): {sc['xadd_per_s']:,.0f} XADDs/s for "
                     f"{sc['errors_per_s']:,.0f} errors/s ({sc['xadds_per_error']} per error), "
                     f"{sc['groups']:,} groups, "
                     f"lost {sc['lost']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the storms, print the report and PASS/FAIL, write bench/results/storm.json; exit 0 whatever the verdicts."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(env("BENCH_STORM_SECONDS") or DEFAULT_SECONDS),
                        help="Seconds of errors per configuration (and of the continuous storm).")
    parser.add_argument("--slice-seconds", type=float,
                        default=float(env("BENCH_STORM_SLICE_SECONDS") or DEFAULT_SLICE_S))
    parser.add_argument("--scan-seconds", type=float, default=None,
                        help="Length of the scan storm (every URL new); default a third of --seconds, 0 to skip.")
    parser.add_argument("--output", type=Path, default=Path(env("BENCH_OUTPUT") or RESULTS))
    parser.add_argument("--counts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.counts:
        print(json.dumps(counts()))
        return 0
    problem = missing()
    if problem:
        print(f"{problem}: skipping the storm benchmark.", file=sys.stderr)
        return 0
    scan_s = args.scan_seconds
    if scan_s is None:
        scan_s = float(env("BENCH_STORM_SCAN_SECONDS") or args.seconds / 3)
    slice_s = min(args.slice_seconds, args.seconds)
    started, load_before = time.monotonic(), list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="errortrail-storm-") as workdir:
        runs = measure(args.seconds, slice_s, scan_s, Path(workdir))
    analysis = analyse(runs, capture_settings())
    for run in runs:
        slices = run.pop("slices")
        run["latency_us"] = {f"p{q:g}": wrk.merged_percentile(slices, q) for q in (50, 90, 99, 99.9)}
    doc = {"benchmark": "storm", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {**machine(), "loadavg_before": load_before}, "seconds_per_storm": args.seconds,
           "slice_seconds": slice_s, "scan_seconds": scan_s, "connections": CONNECTIONS, "workers": WORKERS,
           **analysis, "runs": runs}
    doc["seconds"] = round(time.monotonic() - started, 1)
    print(report(doc))
    bench_report.save(args.output, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
