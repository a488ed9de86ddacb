"""Chart geometry: axis scale, stacked bars, legend, data table, sparklines (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from webui import charts


@pytest.mark.parametrize("peak, top, step", [(0, 1, 1), (1, 1, 1), (3, 3, 1), (4, 4, 1), (5, 6, 2), (9, 10, 5),
                                             (10, 10, 5), (11, 15, 5), (99, 100, 50), (1234, 1500, 500)])
def test_nice_scale(peak, top, step):
    assert charts.nice_scale(peak) == (top, step)


@given(st.integers(min_value=0, max_value=10**12))
def test_nice_scale_covers_the_peak_with_at_most_five_ticks(peak):
    top, step = charts.nice_scale(peak)
    assert top >= peak and top % step == 0 and top // step <= 5 and step >= 1


def test_stacked_bars_sum_to_bucket_totals_and_stay_in_the_plot():
    labels = [("00:00", "2027-01-01 00:00"), ("01:00", "2027-01-01 01:00"), ("02:00", "2027-01-01 02:00")]
    chart = charts.stacked(labels, {"csrf": [1, 0, 2], "app_error": [3, 0, 0], "weird": [0, 0, 1]}, "T")
    assert [item["cls"] for item in chart.legend] == ["app_error", "csrf", "weird"]
    assert [item["css"] for item in chart.legend] == ["cls-app_error", "cls-csrf", "cls-other"]
    assert chart.total == 7 and chart.peak == 4
    assert chart.rows[0] == ("2027-01-01 00:00", [3, 1, 0], 4)
    plot_h = chart.bottom - chart.top
    first = [b for b in chart.bars if b.x == chart.bars[0].x]
    assert round(sum(b.h for b in first)) == round(plot_h * 4 / 4)  # the busiest bucket reaches the top tick
    for bar in chart.bars:
        assert chart.left <= bar.x and bar.x + bar.w <= chart.right + 0.1
        assert chart.top - 0.1 <= bar.y and bar.y + bar.h <= chart.bottom + 0.1
    assert "2027-01-01 00:00: 3 server error" in [b.label for b in chart.bars]
    assert [t.label for t in chart.yticks] == ["0", "1", "2", "3", "4"]
    assert "7 errors from 2027-01-01 00:00 to 2027-01-01 02:00" in chart.desc
    assert 'class="cls-app_error"' in chart.bars_svg() and "<td>4</td>" in chart.rows_html()


def test_labels_and_text_are_escaped():
    chart = charts.stacked([("<b>", "<i>x</i>")], {"app_error": [1]}, "t")
    assert "&lt;i&gt;x&lt;/i&gt;" in chart.bars_svg() and "<i>" not in chart.rows_html()


def test_an_empty_chart_has_axes_and_no_bars():
    chart = charts.stacked([("a", "A")] * 24, {}, "t")
    assert chart.bars == [] and chart.total == 0 and chart.legend == [] and len(chart.yticks) == 2
    assert len(chart.xticks) == 8  # every third of 24 labels
    assert charts.stacked([], {}, "t").desc == ""


def test_sparkline_scales_to_its_box():
    spark = charts.sparkline([0, 5, 10], width=100, height=20)
    assert spark.points == "2.0,18.0 50.0,10.0 98.0,2.0"
    assert spark.desc == "15 in 3 hours, at most 10 per hour"
    flat = charts.sparkline([0, 0], unit="day")
    assert flat.points.endswith(",20.0") and "days" in flat.desc
    assert charts.sparkline([]).points == ""


def test_class_names_and_choices():
    assert charts.class_name("csrf") == "CSRF failure" and charts.class_name("odd") == "odd"
    assert ("probe", "scanner probe") in charts.class_choices()
    assert charts.ordered(["zzz", "csrf", "app_error"]) == ["app_error", "csrf", "zzz"]
