"""A short error storm end to end: wrk -> gunicorn with capture -> a private Redis -> run_projector -> PostgreSQL."""

from __future__ import annotations

import shutil

import pytest

from bench import storm
from bench.rig import services
from tests.conftest import service_missing

pytestmark = pytest.mark.slow

SECONDS = 6


@pytest.fixture
def storms(tmp_path):
    """The storm's services (private redis-server, template database); every process is stopped in a finally."""
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            service_missing(tool, "not installed")
    try:
        services.pg_sql("SELECT 1")
    except Exception as exc:
        service_missing("PostgreSQL", str(exc))
    with storm.Storms(tmp_path) as running:
        yield running


def test_a_storm_loses_no_count_and_its_xadds_stay_within_the_coalescing_bound(storms):
    result = storms.storm("capture", SECONDS)
    cfg = storm.capture_settings()
    # Windows end at most storm_span_s / window + 1 times per worker process (restarted workers count too).
    bound = storm.xadd_bound(result["worker_boots"], result["storm_span_s"], cfg["COALESCE_WINDOW_S"],
                             cfg["COALESCE_FULL"])

    assert result["worker_boots"] >= services.WORKERS
    assert result["sent_errors"] == result["answered_errors"] == result["status"]
    assert result["status"] > bound, "not a storm: too few errors to say anything about coalescing"
    counted = result["counted"]
    assert counted["groups"] == 1
    assert counted["count"] == result["status"], f"lost {result['status'] - counted['count']} error responses"
    assert counted["hourly"] == counted["class_hourly"] == result["status"]
    assert 0 < counted["samples"] <= result["xadd_calls"]
    assert result["xadd_calls"] == result["stream_length"]
    assert result["xadd_calls"] <= bound
    assert result["pending_after_projection"] == 0
    assert result["dead_letters"] == 0
    assert result["capture_drops"] == {}
    assert not [line for line in result["site_log_lines"] if "Traceback" in line]


def test_without_capture_the_site_writes_nothing_to_redis(storms):
    result = storms.storm("plain", 2)

    assert result["status"] > 0
    assert "counted" not in result
    assert storms.redis.xadd_calls() == 0
