"""The storm benchmark's pure parts: the order of storms, wrk's output, merged percentiles, the XADD bound, verdicts."""

from __future__ import annotations

import pytest

from bench import storm
from bench.rig import wrk

CAPTURE = {"COALESCE_WINDOW_S": 1.0, "COALESCE_FULL": 3, "MAX_EVENTS_PER_S": 100}


def test_slices_alternate_so_each_configuration_goes_first_as_often():
    assert storm.order(1) == ["plain", "capture"]
    assert storm.order(2) == ["plain", "capture", "capture", "plain"]
    assert storm.order(3).count("capture") == 3


def test_wrk_output_parses_into_counts_and_quantiles():
    out = ("Running 6s test\nSTORM-SUMMARY requests=120 duration_us=6000000 bytes=9 status=100 connect=1 read=2 "
           "write=0 timeout=3 max_us=9000 sent_errors=100 answered_errors=100 healthy_answers=20 stopped_early=1\n"
           "STORM-QUANTILES " + ",".join(str(i) for i in range(1000)) + "\n")

    parsed = wrk.parse(out)

    assert parsed["requests"] == 120 and parsed["status"] == 100 and parsed["max_us"] == 9000
    assert parsed["socket_errors"] == 6 and parsed["stopped_early"] == 1
    assert parsed["quantiles"][:3] == [0, 1, 2] and len(parsed["quantiles"]) == 1000


@pytest.mark.parametrize("text", ["", "STORM-SUMMARY requests=1 status=1", "STORM-QUANTILES 1,2,3"])
def test_wrk_output_without_the_summary_is_an_error(text):
    with pytest.raises(ValueError, match="storm summary"):
        wrk.parse(text)


def test_merged_percentiles_weight_each_run_by_its_requests():
    fast = {"requests": 3000, "quantiles": [100] * 1000}
    slow = {"requests": 1000, "quantiles": [400] * 1000}

    assert wrk.merged_percentile([fast, slow], 50) == 100
    assert wrk.merged_percentile([fast, slow], 75) == 100
    assert wrk.merged_percentile([fast, slow], 76) == 400
    assert wrk.merged_percentile([slow], 99) == 400
    assert wrk.merged_percentile([{"requests": 10, "quantiles": list(range(1000))}], 99) == 989
    with pytest.raises(ValueError):
        wrk.merged_percentile([{"requests": 0, "quantiles": [1] * 1000}], 50)


def test_the_xadd_bound_is_full_plus_one_per_window_per_process_and_pattern():
    assert storm.xadd_bound(2, 60.5, 1.0, 3) == 2 * 4 * 61
    assert storm.xadd_bound(3, 5.5, 1.0, 3) == 3 * 4 * 6  # a restarted worker is one more process
    assert storm.xadd_bound(2, 10, 2.0, 1, patterns=5) == 2 * 5 * 2 * 6


def storm_run(config, p99, errors=1000, counted=None, kind="alternating", **extra):
    run = {"config": config, "kind": kind, "requests": errors + 5, "status": errors, "error_phase_s": 9.5,
           "slices": [{"requests": errors + 5, "quantiles": [500] * 985 + [p99] * 15}], "max_us": p99,
           "socket_errors": 0, "worker_cpu_s": 0.402}
    if config == "capture":
        run.update(counted=counted or {"groups": 1, "count": errors, "hourly": errors, "class_hourly": errors},
                   xadd_calls=80, xadd_per_s=8.4)
    return {**run, **extra}


def test_analysis_passes_a_flat_exact_bounded_storm():
    runs = [storm_run("plain", 1000), storm_run("capture", 1090), storm_run("capture", 1, kind="continuous")]
    doc = storm.analyse(runs, CAPTURE)

    assert [t["verdict"] for t in doc["targets"]] == ["PASS", "PASS", "PASS"]
    assert doc["ratios"]["p99_us"] == 1.09 and doc["ratios"]["worker_cpu_us_per_request"] == 1.0
    assert (doc["ratios"]["slice_pairs"], doc["ratios"]["slice_pairs_capture_p99_higher"]) == (1, 1)
    assert doc["ratios"]["slice_pair_p99_ratio_median"] == 1.09
    assert doc["summary"]["capture"]["worker_cpu_us_per_request"] == 400.0
    assert doc["summary"]["plain"]["errors_per_s"] == round(1000 / 9.5, 1)
    assert doc["summary"]["plain"]["p50_us"] == 500 and doc["summary"]["plain"]["p99_9_us"] == 1000
    assert doc["lost"] == doc["extra"] == 0 and "scan" not in doc


def test_analysis_fails_slow_lossy_or_chatty_storms():
    lossy = {"groups": 1, "count": 990, "hourly": 990, "class_hourly": 990}
    runs = [storm_run("plain", 1000), storm_run("capture", 1200), storm_run("capture", 1, counted=lossy,
                                                                            kind="continuous", xadd_per_s=400)]
    doc = storm.analyse(runs, CAPTURE)

    assert [t["verdict"] for t in doc["targets"]] == ["FAIL", "FAIL", "FAIL"]
    assert doc["lost"] == 10


def test_counts_over_what_wrk_received_also_fail_and_hourly_must_agree():
    over = {"groups": 1, "count": 1001, "hourly": 1001, "class_hourly": 1001}
    assert storm.analyse([storm_run("plain", 1), storm_run("capture", 1, counted=over)], CAPTURE)["extra"] == 1
    skewed = {"groups": 1, "count": 1000, "hourly": 999, "class_hourly": 1000}
    doc = storm.analyse([storm_run("plain", 1), storm_run("capture", 1, counted=skewed)], CAPTURE)
    assert doc["lost"] == 0 and doc["targets"][2]["verdict"] == "FAIL"


def test_the_scan_storm_is_reported_apart_from_the_latency_and_xadd_targets():
    scan = storm_run("capture", 5000, errors=700, kind="scan", xadd_calls=700, xadd_per_s=73.7,
                     counted={"groups": 700, "count": 700, "hourly": 700, "class_hourly": 700})
    doc = storm.analyse([storm_run("plain", 1000), storm_run("capture", 1000), scan], CAPTURE)

    assert doc["targets"][1]["value"] == 8.4
    assert doc["summary"]["capture"]["errors"] == 1000
    assert doc["scan"] == {"errors": 700, "errors_per_s": 73.7, "xadd_calls": 700, "xadd_per_s": 73.7,
                           "xadds_per_error": 1.0, "groups": 700, "counted": 700, "lost": 0}


@pytest.mark.parametrize("seconds, duration, errors", [(2, 3, 2.75), (5, 6, 5.75), (60, 61, 60.75), (0.5, 1, 0.75)])
def test_wrk_runs_whole_seconds_with_at_least_the_asked_error_phase(seconds, duration, errors):
    assert wrk.durations(seconds) == (duration, errors)
    assert errors >= seconds and duration - errors == wrk.TAIL_S
