"""The capture benchmark's statistics: percentiles, noise floor, added time, targets and the table."""

import pytest

from bench.rig import stats


def kinds(**p50):
    return {kind: {"p50_us": p50.get(f"k{kind}", p50.get("default", 100.0)), "p99_us": 500.0, "n": 10}
            for kind in stats.KINDS}


def test_percentile_interpolates_between_ranks():
    assert stats.percentile([3, 1, 2], 50) == 2
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile(range(101), 99) == 99
    assert stats.percentile([7], 99) == 7
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_summary_is_in_microseconds():
    assert stats.summary([1000, 2000, 3000]) == {"p50_us": 2.0, "p99_us": 2.98, "n": 3}


def test_baseline_is_the_mean_and_the_noise_floor_the_difference():
    base = stats.baseline(kinds(khealthy=100.0), kinds(khealthy=104.0))
    assert base["healthy"] == {"p50_us": 102.0, "noise_p50_us": 4.0, "p99_us": 500.0, "noise_p99_us": 0.0}


def test_the_noise_floor_is_at_least_the_spread_of_the_baseline_passes():
    passes = [kinds(khealthy=99.0), kinds(khealthy=103.5), kinds(khealthy=101.0)]
    base = stats.baseline(kinds(khealthy=101.0), kinds(khealthy=101.5), passes)
    assert base["healthy"]["p50_us"] == 101.25 and base["healthy"]["noise_p50_us"] == 4.5
    assert base["404"]["noise_p50_us"] == 0.0
    assert stats.baseline(kinds(khealthy=90.0), kinds(khealthy=101.0), passes)["healthy"]["noise_p50_us"] == 11.0


def test_added_can_be_negative():
    base = stats.baseline(kinds(), kinds())
    assert stats.added(kinds(kcsrf=90.0, k500=400.0), base)["csrf"]["p50_us"] == -10.0
    assert stats.added(kinds(kcsrf=90.0, k500=400.0), base)["500"]["p50_us"] == 300.0


def test_targets_pass_fail_and_skip():
    base = stats.baseline(kinds(khealthy=100.0, kcsrf=500.0), kinds(khealthy=103.0, kcsrf=510.0))
    capture = {"healthy": {"p50_us": 2.0}, "500": {"p50_us": 150.0}, "csrf": {"p50_us": 20.0}}
    sentry = {"500": {"p50_us": 3000.0}}
    verdicts = {t["name"]: (t["verdict"], t["limit_us"]) for t in stats.targets(base, capture, sentry, {"p50_us": 70.0})}
    assert verdicts == {
        "healthy within the noise floor": ("PASS", 3.0),
        "500 <= 2x bare XADD": ("FAIL", 140.0),
        "500 <= 10% of sentry-sdk": ("PASS", 300.0),
        "CSRF page no slower than Django's": ("FAIL", 10.0),
    }
    skipped = stats.targets(base, None, None, None)
    assert [t["verdict"] for t in skipped] == ["SKIP"] * 4


def test_table_shows_added_time_and_ratios():
    base = stats.baseline(kinds(), kinds())
    runs = {"plain_a": kinds(), "plain_b": kinds(), "capture": kinds(k500=160.0), "sentry": kinds(k500=400.0)}
    adds = {name: stats.added(runs[name], base) for name in ("capture", "sentry")}
    text = stats.table(runs, base, adds, "p50_us")
    row = next(line for line in text.splitlines() if line.startswith("500"))
    assert row.split() == ["500", "100.0", "100.0", "0.0", "160.0", "+60.0", "400.0", "+300.0", "0.20", "1.60"]
    without = stats.table({"plain_a": kinds(), "plain_b": kinds()}, base, {}, "p99_us")
    assert without.splitlines()[2].split()[4:] == ["—"] * 6


def test_python_m_bench_finds_the_benchmarks_and_refuses_unknown_names(capsys):
    from bench import __main__ as runner

    assert "capture" in runner.benchmarks()
    assert runner.main(["no-such-bench"]) == 2
    assert "unknown benchmark(s) no-such-bench" in capsys.readouterr().err
