"""What capture adds per request (healthy, 404, 500, CSRF) next to no monitoring and sentry-sdk; issue 2's targets."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import report as bench_report
from bench.rig import stats
from bench.rig.sink import Sink

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "capture.json"
DEFAULT_ROUNDS = 3000
DEFAULT_PASSES = 3
WORKER_TIMEOUT_S = 300
CONFIGS = ("plain_a", "capture", "sentry", "plain_b", "xadd")
SENTRY_EXIT_NOISE = ("Sentry is attempting to send", "Waiting up to", "Press Ctrl-C to quit")


def redis_url() -> str:
    """The Redis to measure against: BENCH_REDIS_URL, ERRORTRAIL_REDIS_URL, REDIS_URL, else the local default."""
    for name in ("BENCH_REDIS_URL", "ERRORTRAIL_REDIS_URL", "REDIS_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return "redis://127.0.0.1:6379/0"


def redis_client(url: str) -> Any | None:
    """A client of the Redis at url, or None (with a message) when it does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        print(f"Redis at {url} does not answer ({exc}): skipping capture and XADD.", file=sys.stderr)
        return None
    return client


def run_worker(config: str, rounds: int, env: dict[str, str]) -> dict[str, Any]:
    """Run one configuration in a fresh process and return its JSON result (raw samples in ns)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.rig.worker", config, str(rounds)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {config} failed:\n{proc.stderr[-3000:]}")
    said = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(SENTRY_EXIT_NOISE)]
    if said:
        print(f"  ({config} said on stderr: {' / '.join(said)[-500:]})", file=sys.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def capture_delivery(client: Any, prefix: str) -> dict[str, Any]:
    """What capture reports about its own delivery during the run (and the keys it leaves, deleted here)."""
    out = {
        "stream_length": client.xlen(f"{prefix}errors"),
        "stats": {k.decode(): int(v) for k, v in client.hgetall(f"{prefix}capture:stats").items()},
        "drops": {k.decode(): int(v) for k, v in client.hgetall(f"{prefix}capture:drops").items()},
    }
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    return out


def plan(passes: int, with_redis: bool) -> list[list[str]]:
    """Each pass runs every configuration once; the order rotates so no configuration always runs first."""
    names = [name for name in CONFIGS if with_redis or name not in ("capture", "xadd")]
    django_names = [name for name in names if name != "xadd"]
    out = []
    for i in range(passes):
        shift = i % len(django_names)
        out.append(django_names[shift:] + django_names[:shift] + [n for n in names if n == "xadd"])
    return out


def measure(rounds: int, passes: int) -> dict[str, Any]:
    """Run every configuration `passes` times (plain twice, as A and B, for the noise floor)."""
    url = redis_url()
    client = redis_client(url)
    prefix = f"errortrail-bench-{uuid.uuid4().hex[:10]}:"
    env = dict(os.environ, BENCH_REDIS_URL=url, BENCH_PREFIX=prefix, PYTHONPATH=str(REPO))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    samples: dict[str, dict[str, list[int]]] = {}
    closed: dict[str, dict[str, list[int]]] = {}
    baseline_passes: list[dict] = []
    closed_passes: list[dict] = []
    extra: dict[str, Any] = {"redis_url": url, "prefix": prefix, "expected_capture_events": 0}
    per_pass = max(1, -(-rounds // passes))
    with tempfile.TemporaryDirectory(prefix="errortrail-bench-") as spool, Sink() as sink:
        env.update(BENCH_SPOOL_DIR=spool, BENCH_SENTRY_DSN=sink.dsn)
        for number, names in enumerate(plan(passes, client is not None), 1):
            print(f"  pass {number}/{passes}: {', '.join(names)} ({per_pass} requests of each kind)",
                  file=sys.stderr, flush=True)
            for name in names:
                result = run_worker(name.split("_")[0], per_pass, env)
                for kind, values in result["samples"].items():
                    samples.setdefault(name, {}).setdefault(kind, []).extend(values)
                for kind, values in result.get("closed_samples", {}).items():
                    closed.setdefault(name, {}).setdefault(kind, []).extend(values)
                if name.startswith("plain"):
                    baseline_passes.append({kind: stats.summary(values) for kind, values in result["samples"].items()})
                    closed_passes.append({kind: stats.summary(v) for kind, v in result["closed_samples"].items()})
                if name == "capture":
                    extra["expected_capture_events"] += 3 * result["errors_per_kind"]
                if name == "xadd":
                    extra["event_bytes"] = result["event_bytes"]
        if client is not None:
            extra["capture_delivery"] = capture_delivery(client, prefix)
        extra["sentry_envelopes_received"] = sink.received
    summaries = {name: {kind: stats.summary(values) for kind, values in kinds.items()} for name, kinds in samples.items()}
    closed_summaries = {name: {kind: stats.summary(v) for kind, v in kinds.items()} for name, kinds in closed.items()}
    return {
        "runs": summaries, "baseline_passes": baseline_passes,
        "closed_runs": closed_summaries, "closed_baseline_passes": closed_passes, "extra": extra,
    }


def analyse(measured: dict[str, Any]) -> dict[str, Any]:
    """Baseline, noise floor, added time per configuration, and the targets."""
    runs = {name: kinds for name, kinds in measured["runs"].items() if name != "xadd"}
    base = stats.baseline(runs["plain_a"], runs["plain_b"], measured["baseline_passes"])
    adds = {name: stats.added(runs[name], base) for name in ("capture", "sentry") if name in runs}
    redis_runs = measured["runs"].get("xadd", {})
    closed_runs = measured.get("closed_runs") or {}
    closed_base = closed_adds = None
    if "plain_a" in closed_runs:
        closed_base = stats.baseline(closed_runs["plain_a"], closed_runs["plain_b"], measured["closed_baseline_passes"])
        closed_adds = {name: stats.added(closed_runs[name], closed_base) for name in ("capture", "sentry") if name in closed_runs}
    return {
        "runs": runs,
        "baseline": base,
        "added": adds,
        "closed_runs": closed_runs,
        "closed_baseline": closed_base,
        "closed_added": closed_adds,
        "xadd": redis_runs.get("xadd"),
        "xadd_get_pipeline": redis_runs.get("xadd_get_pipeline"),
        "targets": stats.targets(base, adds.get("capture"), adds.get("sentry"), redis_runs.get("xadd")),
    }


def report(analysis: dict[str, Any], measured: dict[str, Any]) -> str:
    """The printed report: two tables, the XADD figure, delivery checks and the targets."""
    runs, base, adds = analysis["runs"], analysis["baseline"], analysis["added"]
    lines = ["", "errortrail capture benchmark (microseconds per request, full WSGI call in process)", "",
             "Response time: until the body is produced, i.e. what the client waits for (a WSGI server sends",
             "the body before it calls close(), where capture builds and sends the event).", ""]
    for stat, title in (("p50_us", "median"), ("p99_us", "p99")):
        lines += [f"{title}:", stats.table(runs, base, adds, stat), ""]
    if analysis.get("closed_added"):
        lines += ["Worker time: until close() returned (includes capture's event building and its round trip).", ""]
        for stat, title in (("p50_us", "median"), ("p99_us", "p99")):
            lines += [f"{title}:", stats.table(analysis["closed_runs"], analysis["closed_baseline"],
                                                analysis["closed_added"], stat), ""]
    xadd, pipe = analysis["xadd"], analysis["xadd_get_pipeline"]
    if xadd:
        lines.append(f"one bare XADD round trip ({measured['extra']['event_bytes']} B msgpack): "
                     f"median {xadd['p50_us']:.1f} µs, p99 {xadd['p99_us']:.1f} µs; "
                     f"XADD + GET pipelined as capture sends it: median {pipe['p50_us']:.1f} µs, p99 {pipe['p99_us']:.1f} µs")
    delivery = measured["extra"].get("capture_delivery")
    if delivery:
        lines.append(f"capture delivered {delivery['stream_length']} of {measured['extra']['expected_capture_events']} events to the "
                     f"stream; stats {delivery['stats'] or '{}'}; drops {delivery['drops'] or '{}'}")
    lines.append(f"sentry-sdk sent {measured['extra']['sentry_envelopes_received']} envelopes to the local sink")
    lines += ["", "targets (issue 2, section 5):"]
    for t in analysis["targets"]:
        value = "—" if t["value_us"] is None else f"{t['value_us']:+.1f} µs"
        limit = "—" if t["limit_us"] is None else f"{t['limit_us']:.1f} µs"
        lines.append(f"  {t['verdict']:4}  {t['name']}: {value} (limit {limit})")
    closed = analysis.get("closed_added") or {}
    if "capture" in closed and xadd:
        busy = closed["capture"]["500"]["p50_us"]
        lines.append(f"  info  worker time a captured 500 adds, event and round trip included: {busy:+.1f} µs "
                     f"({busy / xadd['p50_us']:.1f}x one bare XADD; sentry-sdk: {closed['sentry']['500']['p50_us']:+.1f} µs)"
                     if "sentry" in closed else f"  info  worker time a captured 500 adds: {busy:+.1f} µs")
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """Versions of what was measured."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("django", "redis", "hiredis", "sentry-sdk", "msgpack", "errortrail"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "absent"
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report, write bench/results/capture.json; exit 0 whatever the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", DEFAULT_ROUNDS)))
    parser.add_argument("--passes", type=int, default=int(os.environ.get("BENCH_PASSES", DEFAULT_PASSES)))
    parser.add_argument("--output", type=Path, default=Path(os.environ.get("BENCH_OUTPUT") or RESULTS))
    args = parser.parse_args(argv)
    started = time.monotonic()
    measured = measure(args.rounds, args.passes)
    analysis = analyse(measured)
    print(report(analysis, measured))
    document = {
        "benchmark": "capture",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(),
        "requests_per_kind": args.rounds,
        "passes": args.passes,
        "seconds": round(time.monotonic() - started, 1),
        **analysis,
        "extra": measured["extra"],
    }
    bench_report.save(args.output, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
