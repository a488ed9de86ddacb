"""The capture benchmark end to end, tiny: every configuration runs, capture delivers every event, JSON is written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_capture_runs_every_configuration_and_reports_the_targets(redis_url, tmp_path):
    output = tmp_path / "capture.json"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BENCH_REDIS_URL": redis_url, "BENCH_OUTPUT": str(output)}
    proc = subprocess.run([sys.executable, "-m", "bench", "capture"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**env, "BENCH_ROUNDS": "60", "BENCH_PASSES": "2"})
    assert proc.returncode == 0, proc.stderr
    assert "targets (issue 2, section 5):" in proc.stdout
    result = json.loads(output.read_text())
    assert result["passes"] == 2
    assert set(result["runs"]) == {"plain_a", "plain_b", "capture", "sentry"}
    assert {kind: run["n"] for kind, run in result["runs"]["capture"].items()} == {
        "healthy": 60, "404": 60, "500": 60, "csrf": 60}
    assert result["xadd"]["n"] == 60 and result["xadd_get_pipeline"]["n"] == 60
    delivery = result["extra"]["capture_delivery"]
    assert delivery["stream_length"] == result["extra"]["expected_capture_events"] > 0
    assert delivery["drops"] == {}
    assert result["extra"]["sentry_envelopes_received"] > 0
    assert [t["verdict"] in ("PASS", "FAIL") for t in result["targets"]] == [True] * 4
    assert not list(redis.Redis.from_url(redis_url).scan_iter(match=result["extra"]["prefix"] + "*"))
