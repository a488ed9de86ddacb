"""bench/RESULTS.md is generated from the result JSON files alone: full, partial and broken sets of results."""

from __future__ import annotations

import json
import os
import time
import types

import pytest

import bench.__main__ as runner
from bench import report, storm

MACHINE = {"cpus": 2, "cpu_model": "AMD EPYC", "loadavg": [1.5, 1.25, 1.0]}


def storm_doc():
    """A storm result as bench/storm.py writes it (analysis of a synthetic alternating storm)."""
    def run(config, p99, errors=1000, **extra):
        return {"config": config, "kind": "alternating", "requests": errors + 5, "status": errors, "max_us": p99,
                "error_phase_s": 10.0, "slices": [{"requests": errors + 5, "quantiles": [1000] * 985 + [p99] * 15}],
                "socket_errors": 0, "worker_cpu_s": 0.5, **extra}

    counted = {"groups": 1, "count": 1000, "hourly": 1000, "class_hourly": 1000}
    runs = [run("plain", 2000), run("capture", 2100, counted=counted, xadd_calls=88, xadd_per_s=8.8)]
    doc = storm.analyse(runs, {"COALESCE_WINDOW_S": 1.0, "COALESCE_FULL": 3, "MAX_EVENTS_PER_S": 100})
    return {"benchmark": "storm", "when": "2026-12-05T10:00:00Z", "machine": MACHINE, **doc}


DOCS = {
    "capture": {
        "when": "2026-12-04T21:57:14Z", "seconds": 44.0, "machine": {"cpus": 2},
        "runs": {"capture": {k: {"p50_us": 200.0} for k in ("healthy", "404", "500", "csrf")},
                 "sentry": {"500": {"p50_us": 1650.0}}},
        "baseline": {k: {"p50_us": 100.0} for k in ("healthy", "404", "500", "csrf")},
        "xadd": {"p50_us": 51.7},
        "targets": [{"name": "500 <= 2x bare XADD", "value_us": 100.0, "limit_us": 103.4, "verdict": "PASS",
                     "rule": "capture's added p50 on a 500 <= 2 x one bare XADD"}],
    },
    "projector": {
        "throughput": {"projector_per_s": 21_000, "raw_ceiling_per_s": 28_000, "counted": 10, "expected": 10},
        "replay": {"events": 500_000, "seconds": 40.0}, "soak": {"seconds": 30, "rss_start_mb": 80.0,
                                                               "rss_end_mb": 81.0, "flat": True},
    },
    "webui": {"machine": "x86_64", "target_ms": 200.0, "pages": [
        {"page": "overview 24h", "p95_ms": 42.9, "queries": 10, "target": True},
        {"page": "api top 30d", "p95_ms": 250.0, "queries": 8, "target": False}]},
}


def rows_of(text, heading):
    """The table rows under one benchmark's heading."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| figure")]


def test_every_figure_has_its_baseline_ratio_target_and_verdict():
    text = report.render({**DOCS, "storm": storm_doc()}, MACHINE, "2026-12-05 10:30 UTC")

    assert "2026-12-05 10:30 UTC" in text and "2 CPUs, AMD EPYC" in text and "1.50 1.25 1.00" in text
    assert "No results yet" not in text
    p99 = next(r for r in rows_of(text, report.TITLES["storm"]) if r.startswith("| p99 latency"))
    assert p99.split(" | ")[1:6] == ["2,100 µs", "2,000 µs", "1.050", "—", "— |"]
    pairs = next(r for r in rows_of(text, report.TITLES["storm"]) if r.startswith("| p99 slice by slice"))
    assert "(capture higher in 1 of 1)" in pairs and pairs.endswith("| 1.05 | — | — | ≤ 1.1 | PASS |")
    proj = rows_of(text, report.TITLES["projector"])[0]
    assert "21,000 /s | 28,000 /s | 0.750 |" in proj and proj.endswith("PASS |")
    replay = rows_of(text, report.TITLES["projector"])[2]
    assert "| 80 s |" in replay and "< 60 s" in replay and replay.endswith("FAIL |")
    webui = rows_of(text, report.TITLES["webui"])
    assert webui[0].endswith("< 200 ms | PASS |") and webui[1].endswith("| — | — |")
    capture = rows_of(text, report.TITLES["capture"])
    assert "| 500: p50 with capture (baseline: no monitoring) | 200 µs | 100 µs | 2.000 |" in "\n".join(capture)
    assert "Targets: 8 of 9 pass. FAIL: projector: replay of 500,000 events" in text
    assert text.index("## capture") < text.index("## storm") < text.index("## projector") < text.index("## webui")


def test_a_partial_run_gives_a_page_of_what_is_there():
    text = report.render({"storm": storm_doc()}, MACHINE, "now")

    assert "No results yet for: capture, projector, webui." in text
    assert "## storm" in text and "## capture" not in text
    assert "Targets: 3 of 3 pass." in text


def test_a_result_of_another_shape_is_named_not_fatal():
    text = report.render({"storm": {"summary": {}}, "newbench": {"x": 1}}, MACHINE, "now")

    assert "could not read storm.json (KeyError" in text
    assert "## newbench" in text and "(no table for this result file)" in text


def test_the_run_line_prefers_the_runners_note():
    doc = {"when": "old", "machine": "x86_64", "bench_run": {
        "started": "2026-12-05T09:00:00Z", "seconds": 61.04, "machine": {"cpus": 2, "cpu_model": "AMD EPYC"},
        "loadavg_before": [1.0, 2.0, 3.0], "loadavg_after": [1.5, 2.0, 3.0], "quick": True}}

    assert report.run_line(doc) == ("run 2026-12-05T09:00:00Z, 61.04 s, 2 CPUs (AMD EPYC), load average 1.00 2.00 3.00 "
                                    "before, 1.50 2.00 3.00 after, BENCH_QUICK smoke run")
    assert report.run_line({"_mtime": "2026-12-01T00:00:00Z"}) == "run 2026-12-01T00:00:00Z"


@pytest.mark.parametrize("value, unit, text", [
    (None, "", "—"), (28000, "/s", "28,000 /s"), (42.94, "ms", "42.9 ms"), (3, "", "3"), (True, "", "True"),
    ("n/a", "", "n/a"), (-0.25, "µs", "-0.25 µs"), (1.05, "", "1.05"), (8.34, "/s", "8.34 /s"), (1.0012, "", "1.001"),
])
def test_numbers(value, unit, text):
    assert report.number(value, unit) == text


def test_write_reads_every_json_skips_broken_ones_and_writes_next_to_them(tmp_path):
    (tmp_path / "storm.json").write_text(json.dumps(storm_doc()))
    (tmp_path / "webui.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")

    written = report.write(tmp_path)

    assert written == tmp_path / "RESULTS.md"
    text = written.read_text()
    assert "## storm" in text and "## webui" not in text and "list" not in text.split("## storm")[1]
    assert "No results yet for: capture, projector, webui." in text


def test_the_runner_notes_when_and_where_a_benchmark_ran(tmp_path):
    output = tmp_path / "storm.json"
    output.write_text(json.dumps({"benchmark": "storm"}))
    started = os.stat(output).st_mtime - 1

    runner.note_run(output, started, [0.5, 0.5, 0.5], 12.34, True)

    note = json.loads(output.read_text())["bench_run"]
    assert note["seconds"] == 12.3 and note["quick"] is True and note["loadavg_before"] == [0.5, 0.5, 0.5]
    assert note["machine"]["cpus"] == os.cpu_count() and len(note["loadavg_after"]) == 3
    stale = tmp_path / "webui.json"
    stale.write_text("{}")
    runner.note_run(stale, time.time() + 60, [0.0] * 3, 1.0, False)
    assert stale.read_text() == "{}"
    runner.note_run(tmp_path / "absent.json", 0, [0.0] * 3, 1.0, False)
    assert not (tmp_path / "absent.json").exists()


def test_quick_settings_yield_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_STORM_ROUNDS", "3")
    env = runner.environment("storm", tmp_path / "storm.json", True)

    assert env == {"BENCH_OUTPUT": str(tmp_path / "storm.json"), "BENCH_STORM_SECONDS": "5",
                   "BENCH_STORM_SCAN_SECONDS": "3"}
    assert runner.environment("storm", tmp_path / "s.json", False) == {"BENCH_OUTPUT": str(tmp_path / "s.json")}


def test_a_crashing_benchmark_is_counted_and_its_environment_restored(monkeypatch, tmp_path, capsys):
    seen = {}

    def crash(argv):
        seen["output"] = os.environ["BENCH_OUTPUT"]
        raise RuntimeError("boom")

    monkeypatch.delenv("BENCH_OUTPUT", raising=False)
    monkeypatch.setattr(runner.importlib, "import_module", lambda name: types.SimpleNamespace(main=crash))

    assert runner.run_one("storm", tmp_path, False) == 1
    assert seen["output"] == str(tmp_path / "storm.json")
    assert "BENCH_OUTPUT" not in os.environ
    assert "bench.storm crashed" in capsys.readouterr().err


def test_report_only_rewrites_results_md(monkeypatch, tmp_path, capsys):
    (tmp_path / "storm.json").write_text(json.dumps(storm_doc()))
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(report, "RESULTS_MD", tmp_path / "OUT.md")
    monkeypatch.delenv("BENCH_QUICK", raising=False)

    assert runner.main(["--report"]) == 0
    assert "## storm" in (tmp_path / "OUT.md").read_text()
    assert runner.main(["nosuchbench"]) == 2


def test_an_explicit_output_file_is_honoured_and_leaves_results_md_alone(monkeypatch, tmp_path):
    written = {}

    def bench_main(argv):
        written["to"] = os.environ["BENCH_OUTPUT"]
        (tmp_path / "mine.json").write_text("{}")

    monkeypatch.setattr(runner, "benchmarks", lambda: ["storm", "webui"])
    monkeypatch.setattr(runner.importlib, "import_module", lambda name: types.SimpleNamespace(main=bench_main))
    monkeypatch.setattr(report, "write", lambda *a: pytest.fail("RESULTS.md rewritten"))
    monkeypatch.setenv("BENCH_OUTPUT", str(tmp_path / "mine.json"))
    monkeypatch.delenv("BENCH_QUICK", raising=False)
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path / "results"))

    assert runner.main(["storm"]) == 0
    assert written["to"] == str(tmp_path / "mine.json")
    assert "bench_run" in json.loads((tmp_path / "mine.json").read_text())
    assert runner.main([]) == 2
