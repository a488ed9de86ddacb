"""Driving wrk for the storm: one run with bench/rig/storm.lua, its printed counts, merged latency percentiles."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "storm.lua"
ERROR_PATH, HEALTHY_PATH = "/pets/999/", "/pets/7/"
# After the error phase wrk asks for the healthy page until every error request has its answer (then the
# thread stops at once); TAIL_S is how long that may take before wrk's own duration ends the run.
TAIL_S = 0.25
QUANTILES = 1000


def parse(stdout: str) -> dict[str, Any]:
    """The counts and the 1,000 latency quantiles (µs) printed by storm.lua's done()."""
    out: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("STORM-SUMMARY "):
            out.update({k: int(v) for k, v in (part.split("=") for part in line.split()[1:])})
        elif line.startswith("STORM-QUANTILES "):
            out["quantiles"] = [int(float(v)) for v in line.split(" ", 1)[1].split(",")]
    if "requests" not in out or len(out.get("quantiles", ())) != QUANTILES:
        raise ValueError(f"wrk did not print the storm summary:\n{stdout[-2000:]}")
    out["socket_errors"] = sum(out.get(k, 0) for k in ("connect", "read", "write", "timeout"))
    return out


def merged_percentile(runs: list[dict[str, Any]], q: float) -> float:
    """The q-th percentile (µs) of several wrk runs together, each run's quantiles weighted by its requests."""
    points = sorted((value, run["requests"] / QUANTILES) for run in runs for value in run["quantiles"])
    total = sum(weight for _, weight in points)
    if not total:
        raise ValueError("no requests")
    seen = 0.0
    for value, weight in points:
        seen += weight
        if seen >= total * q / 100 - 1e-9:
            return float(value)
    return float(points[-1][0])


def durations(seconds: float) -> tuple[int, float]:
    """wrk's --duration (whole seconds) for at least `seconds` of errors, and the error phase it gives."""
    duration = int(seconds + TAIL_S + 0.999)
    return duration, duration - TAIL_S


def run(url: str, seconds: float, connections: int, scan: bool = False) -> dict[str, Any]:
    """One wrk run (1 thread): the error URL (or a new URL per request: scan) for about `seconds`, then the tail."""
    duration, error_s = durations(seconds)
    env = {**os.environ, "STORM_ERROR_S": str(error_s), "STORM_ERROR_PATH": ERROR_PATH,
           "STORM_HEALTHY_PATH": HEALTHY_PATH, "STORM_UNIQUE_PATHS": "1" if scan else "0"}
    proc = subprocess.run(
        ["wrk", "--threads", "1", "--connections", str(connections), "--duration", f"{duration}s",
         "--timeout", "10s", "--script", str(LUA), url],
        env=env, capture_output=True, text=True, timeout=duration + 60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = parse(proc.stdout)
    out["error_phase_s"] = error_s
    return out


def warm_up(url: str, connections: int) -> None:
    """A second of healthy requests, so every worker has loaded the URLconf and templates before the storm."""
    subprocess.run(["wrk", "-t1", f"-c{connections}", "-d1s", url + HEALTHY_PATH], capture_output=True, timeout=60)
