"""`python -m bench [NAME ...]`: run every benchmark module of this package (or the named ones), then RESULTS.md.

`python -m bench --report` only rewrites bench/RESULTS.md from the JSON files already there. With
BENCH_QUICK=1 every benchmark runs briefly (a smoke test) and writes to test-output/bench-quick/ instead;
BENCH_RESULTS_DIR=DIR puts the JSON files and RESULTS.md in DIR; BENCH_OUTPUT=FILE (one benchmark)
writes that benchmark's result to FILE and leaves RESULTS.md alone.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from bench import report

QUICK_DIR = Path(__file__).resolve().parent.parent / "test-output" / "bench-quick"
# Short runs for BENCH_QUICK=1; a variable already set in the environment wins.
QUICK = {
    "capture": {"BENCH_ROUNDS": "300", "BENCH_PASSES": "2"},
    "projector": {"BENCH_PROJECTOR_EVENTS": "10000", "BENCH_REPLAY_EVENTS": "50000", "BENCH_SOAK_S": "5"},
    "webui": {"BENCH_ROUNDS": "5"},
    "storm": {"BENCH_STORM_SECONDS": "5", "BENCH_STORM_ROUNDS": "1", "BENCH_STORM_SCAN_SECONDS": "3"},
}


def benchmarks() -> list[str]:
    """Names of the modules directly in bench/ (not bench.rig) that define main()."""
    here = Path(__file__).resolve().parent
    found = []
    for info in pkgutil.iter_modules([str(here)]):
        if info.ispkg or info.name.startswith("_"):
            continue
        if callable(getattr(importlib.import_module(f"bench.{info.name}"), "main", None)):
            found.append(info.name)
    return sorted(found)


def quick() -> bool:
    """Whether this is a BENCH_QUICK smoke run."""
    return os.environ.get("BENCH_QUICK", "").lower() in ("1", "true", "yes")


def environment(name: str, output: Path, is_quick: bool) -> dict[str, str]:
    """Variables one benchmark runs with: its output file, and the short settings of a quick run."""
    env = {"BENCH_OUTPUT": str(output)}
    if is_quick:
        env.update({k: v for k, v in QUICK.get(name, {}).items() if k not in os.environ})
    return env


def note_run(output: Path, started: float, load_before: list[float], seconds: float, is_quick: bool) -> None:
    """Add when, how long and on what machine to the JSON a benchmark just wrote (left alone if it wrote none)."""
    try:
        if output.stat().st_mtime < started:
            return
        doc = json.loads(output.read_text())
    except (OSError, ValueError):
        return
    machine = report.machine_now()
    doc["bench_run"] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "seconds": round(seconds, 1),
        "machine": {"cpus": machine["cpus"], "cpu_model": machine["cpu_model"]},
        "loadavg_before": load_before, "loadavg_after": machine["loadavg"], "quick": is_quick,
    }
    output.write_text(json.dumps(doc, indent=2) + "\n")


def run_one(name: str, results_dir: Path, is_quick: bool) -> int:
    """Run one benchmark with its environment; a crash is printed and counted, the other benchmarks still run."""
    output = Path(os.environ.get("BENCH_OUTPUT") or results_dir / f"{name}.json")
    env = environment(name, output, is_quick)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    started, load_before = time.time(), [round(x, 2) for x in os.getloadavg()]
    try:
        status = importlib.import_module(f"bench.{name}").main([]) or 0
    except Exception:
        traceback.print_exc()
        print(f"bench.{name} crashed; the other benchmarks still run", file=sys.stderr)
        status = 1
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    note_run(output, started, load_before, time.time() - started, is_quick)
    return status


def main(argv: list[str]) -> int:
    """Run the selected benchmarks one after another, then write RESULTS.md from every result file there is."""
    is_quick = quick()
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or (QUICK_DIR if is_quick else report.RESULTS_DIR))
    results_dir.mkdir(parents=True, exist_ok=True)
    if argv == ["--report"]:
        print(f"written {report.write(results_dir)}")
        return 0
    available = benchmarks()
    chosen = argv or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    explicit = os.environ.get("BENCH_OUTPUT")
    if explicit and len(chosen) > 1:
        print("BENCH_OUTPUT names one result file: run one benchmark with it", file=sys.stderr)
        return 2
    status = 0
    for name in chosen:
        print(f"== bench.{name}" + (" (BENCH_QUICK)" if is_quick else ""), flush=True)
        status = max(status, run_one(name, results_dir, is_quick))
    if explicit:  # a result outside the results directory: RESULTS.md stays as it is
        return status
    print(f"\nwritten {report.write(results_dir)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
