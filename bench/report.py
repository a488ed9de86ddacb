"""bench/RESULTS.md from bench/results/*.json: every figure with its same-run baseline, ratio, target and verdict."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
ORDER = ("capture", "storm", "projector", "webui")
TITLES = {
    "capture": "capture: what capture adds to one request (issue 2)",
    "storm": "storm: an error storm through gunicorn, with and without capture (issue 7)",
    "projector": "projector: throughput, replay, soak (issue 3)",
    "webui": "webui: the dashboard at size (issue 5)",
}
# Targets of bench/projector.py (its JSON holds the figures, not the targets).
PROJECTOR_RATE, PROJECTOR_RATIO, REPLAY_S, REPLAY_REFERENCE = 20_000, 0.70, 60.0, 1_000_000


@dataclass
class Row:
    """One figure of a benchmark and what to compare it with."""

    figure: str
    value: float | str | None
    baseline: float | str | None = None
    target: str = ""
    verdict: str = ""
    unit: str = ""

    def ratio(self) -> str:
        """value / baseline when both are positive numbers."""
        if isinstance(self.value, (int, float)) and isinstance(self.baseline, (int, float)) and self.baseline > 0:
            return f"{self.value / self.baseline:.3f}"
        return "—"


def number(value: Any, unit: str = "") -> str:
    """A figure for the table: thousands separators, one decimal below 100, three below 10, the unit after it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    else:
        text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


# -- one function per benchmark: its JSON -> rows ----------------------------------------------------

def capture_rows(doc: dict[str, Any]) -> list[Row]:
    runs, base = doc["runs"], doc["baseline"]
    rows = []
    for kind in ("healthy", "404", "500", "csrf"):
        if "capture" not in runs:
            break
        figure = (f"{kind}: p50 with capture (baseline: no monitoring)", runs["capture"][kind]["p50_us"],
                  base[kind]["p50_us"])
        targets = [t for t in doc.get("targets", []) if t["name"].split()[0].lower() == kind]
        for t in targets:
            limit = "—" if t["limit_us"] is None else f"{t['limit_us']:,.1f} µs"
            rows.append(Row(*figure, f"{t['rule']}: added {number(t['value_us'], 'µs')}, limit {limit}",
                            t["verdict"], "µs"))
        if not targets:
            rows.append(Row(*figure, unit="µs"))
    if "sentry" in runs:
        rows.append(Row("500: p50 with sentry-sdk (baseline: no monitoring)", runs["sentry"]["500"]["p50_us"],
                        base["500"]["p50_us"], unit="µs"))
    if doc.get("xadd"):
        rows.append(Row("one bare XADD round trip, p50", doc["xadd"]["p50_us"], unit="µs"))
    return rows


def storm_rows(doc: dict[str, Any]) -> list[Row]:
    plain, cap = doc["summary"]["plain"], doc["summary"]["capture"]
    p99 = next(t for t in doc["targets"] if t["name"].startswith("p99"))
    xadd = next(t for t in doc["targets"] if t["name"].startswith("XADD"))
    lost = next(t for t in doc["targets"] if "lost" in t["name"])
    rows = [
        Row("error responses/s with capture (baseline: without)", cap["errors_per_s"], plain["errors_per_s"],
            unit="/s"),
        Row("p50 latency with capture (baseline: without)", cap["p50_us"], plain["p50_us"], unit="µs"),
        Row("p99 latency with capture, all slices together (baseline: without)", cap["p99_us"], plain["p99_us"],
            unit="µs"),
        Row("p99.9 latency with capture (baseline: without)", cap["p99_9_us"], plain["p99_9_us"], unit="µs"),
    ]
    ratios = doc.get("ratios", {})
    if ratios.get("slice_pairs"):
        rows.append(Row(f"p99 slice by slice: median of capture/plain over neighbouring slices (capture higher in "
                        f"{ratios['slice_pairs_capture_p99_higher']} of {ratios['slice_pairs']})",
                        p99["value"], target=f"≤ {p99['limit']}", verdict=p99["verdict"]))
    if "worker_cpu_us_per_request" in cap and "worker_cpu_us_per_request" in plain:
        rows.append(Row("worker CPU per request with capture (baseline: without)", cap["worker_cpu_us_per_request"],
                        plain["worker_cpu_us_per_request"], unit="µs"))
    rows += [
        Row("XADDs/s, busier one-URL capture storm (baseline: errors/s, one XADD each without coalescing)",
            xadd["value"], cap["errors_per_s"], f"≤ {xadd['limit']}/s", xadd["verdict"], "/s"),
        Row("error responses lost (baseline: error responses wrk received, every capture storm)", lost["value"],
            sum(r["status"] for r in doc.get("runs", []) if r.get("config") == "capture") or cap["errors"],
            "0, counts equal in groups, hourly and per class", lost["verdict"]),
    ]
    if "scan" in doc:
        scan = doc["scan"]
        rows.append(Row("scan storm, every URL new: XADDs/s (baseline: errors/s)", scan["xadd_per_s"],
                        scan["errors_per_s"], "no target (many patterns)", "info", "/s"))
    return rows


def projector_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    t = doc.get("throughput")
    if t:
        ok = t["projector_per_s"] >= PROJECTOR_RATE and t["projector_per_s"] >= PROJECTOR_RATIO * t["raw_ceiling_per_s"]
        rows.append(Row("projector events/s (baseline: the raw ceiling, a bare loop)", t["projector_per_s"],
                        t["raw_ceiling_per_s"], f"≥ {PROJECTOR_RATE:,}/s and ratio ≥ {PROJECTOR_RATIO}",
                        "PASS" if ok else "FAIL", "/s"))
        rows.append(Row("events counted (baseline: events sent)", t["counted"], t["expected"], "equal",
                        "PASS" if t["counted"] == t["expected"] else "FAIL"))
    r = doc.get("replay")
    if r:
        per_million = r["seconds"] * REPLAY_REFERENCE / max(1, r["events"])
        rows.append(Row(f"replay of {r['events']:,} events, seconds per 1,000,000", round(per_million, 1), None,
                        f"< {REPLAY_S:g} s", "PASS" if per_million < REPLAY_S else "FAIL", "s"))
    s = doc.get("soak")
    if s:
        rows.append(Row(f"soak {s['seconds']:g} s: RSS at the end (baseline: after warm-up)", s["rss_end_mb"],
                        s["rss_start_mb"], "flat", "PASS" if s["flat"] else "FAIL", "MB"))
    return rows


def webui_rows(doc: dict[str, Any]) -> list[Row]:
    limit = doc.get("target_ms", 200.0)
    rows = []
    for page in doc["pages"]:
        ok = page["p95_ms"] < limit
        rows.append(Row(f"{page['page']}: p95 ({page['queries']} queries)", page["p95_ms"], None,
                        f"< {limit:g} ms" if page["target"] else "",
                        ("PASS" if ok else "FAIL") if page["target"] else "", "ms"))
    return rows


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "capture": capture_rows, "storm": storm_rows, "projector": projector_rows, "webui": webui_rows,
}


# -- the page ------------------------------------------------------------------------------------------

def machine_now() -> dict[str, Any]:
    """CPU count and model, load average: the machine as it is while the page is written."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg": [round(x, 2) for x in os.getloadavg()]}


def run_line(doc: dict[str, Any]) -> str:
    """When and on what one benchmark ran (the runner's note, else what the benchmark recorded itself)."""
    run = doc.get("bench_run") or {}
    recorded = doc.get("machine")
    mach = {**(recorded if isinstance(recorded, dict) else {}), **(run.get("machine") or {})}
    when = run.get("started") or doc.get("when") or doc.get("_mtime") or "date unknown"
    parts = [f"run {when}"]
    seconds = run.get("seconds") or doc.get("seconds")
    if seconds:
        parts.append(f"{seconds:g} s")
    if mach.get("cpus"):
        parts.append(f"{mach['cpus']} CPUs" + (f" ({mach['cpu_model']})" if mach.get("cpu_model") else ""))
    before, after = run.get("loadavg_before") or mach.get("loadavg_before"), run.get("loadavg_after")
    if before:
        parts.append("load average " + " ".join(f"{x:.2f}" for x in before)
                     + (" before, " + " ".join(f"{x:.2f}" for x in after) + " after" if after else " before"))
    if run.get("quick"):
        parts.append("BENCH_QUICK smoke run")
    return ", ".join(parts)


def table(rows: list[Row]) -> list[str]:
    lines = ["| figure | value | baseline (same run) | ratio | target | verdict |", "|---|---:|---:|---:|---|---|"]
    for row in rows:
        lines.append(f"| {row.figure} | {number(row.value, row.unit)} | {number(row.baseline, row.unit)} | "
                     f"{row.ratio()} | {row.target or '—'} | {row.verdict or '—'} |")
    return lines


def render(docs: dict[str, dict[str, Any]], machine: dict[str, Any], generated: str,
           source: str = "bench/results") -> str:
    """The whole page for the results at hand (a partial run gives a page of what is there)."""
    lines = ["# Benchmark results", "",
             f"Written by `python -m bench` (`make bench`) from `{source}/*.json` on {generated}.",
             f"Machine: {machine['cpus']} CPUs, {machine['cpu_model'] or 'model unknown'}; load average "
             + " ".join(f"{x:.2f}" for x in machine["loadavg"]) + " when this page was written.",
             "The machine is shared and noisy: compare each figure with its baseline from the same run (the ratio),",
             "not with figures of another run. How each benchmark measures: `bench/README.md`.", ""]
    verdicts = [(name, row) for name in docs for row in safe_rows(name, docs[name]) if row.verdict in ("PASS", "FAIL")]
    if verdicts:
        passed = sum(row.verdict == "PASS" for _, row in verdicts)
        lines += [f"Targets: {passed} of {len(verdicts)} pass."
                  + "".join(f" FAIL: {name}: {row.figure}." for name, row in verdicts if row.verdict == "FAIL"), ""]
    missing = [name for name in ORDER if name not in docs]
    if missing:
        lines += [f"No results yet for: {', '.join(missing)}.", ""]
    for name in sorted(docs, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        lines += [f"## {TITLES.get(name, name)}", "", run_line(docs[name]), ""]
        rows = safe_rows(name, docs[name])
        lines += table(rows) if rows else ["(no table for this result file)"]
        lines.append("")
    return "\n".join(lines)


def safe_rows(name: str, doc: dict[str, Any]) -> list[Row]:
    """The rows of one result, or one row saying why there are none (a file of another shape)."""
    make = ROWS.get(name)
    if make is None:
        return []
    try:
        return make(doc)
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        return [Row(f"could not read {name}.json ({type(exc).__name__}: {exc})", None)]


def load(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Every results/<name>.json, by name (unreadable files are skipped)."""
    docs = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            doc.setdefault("_mtime", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)))
            docs[path.stem] = doc
    return docs


def save(output: Path | str, doc: dict[str, Any]) -> None:
    """Write one benchmark's JSON result (its folder made if need be) and say where."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(doc, indent=2) + "\n")
    took = f" in {doc['seconds']} s" if "seconds" in doc else ""
    print(f"\nwritten to {output}{took}")


def write(results_dir: Path = RESULTS_DIR, output: Path | None = None) -> Path:
    """Regenerate RESULTS.md from the JSON files in results_dir (next to them unless it is bench/results)."""
    if output is None:
        output = RESULTS_MD if results_dir.resolve() == RESULTS_DIR else results_dir / "RESULTS.md"
    try:
        source = str(results_dir.resolve().relative_to(RESULTS_DIR.parent.parent))
    except ValueError:
        source = str(results_dir)
    text = render(load(results_dir), machine_now(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), source)
    output.write_text(text + "\n")
    return output
