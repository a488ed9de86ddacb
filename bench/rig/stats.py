"""Pure statistics of the capture benchmark: percentiles, added time, noise floor, targets, the table."""

from __future__ import annotations

import math
from typing import Any, Iterable

KINDS = ("healthy", "404", "500", "csrf")


def percentile(samples: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    data = sorted(samples)
    if not data:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    pos = (len(data) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return data[low] + (data[high] - data[low]) * (pos - low)


def summary(samples_ns: list[int]) -> dict[str, float]:
    """Median and p99 in microseconds, and the sample count."""
    us = [s / 1000 for s in samples_ns]
    return {"p50_us": round(percentile(us, 50), 2), "p99_us": round(percentile(us, 99), 2), "n": len(us)}


def baseline(first: dict, second: dict, passes: Iterable[dict] = ()) -> dict[str, dict[str, float]]:
    """Per kind and statistic: the mean of the two baseline runs, and the noise floor.

    The noise floor is how far the same baseline moves between runs: the larger of |A - B| and the
    spread of the baseline's per-pass figures (two numbers alone can agree by luck).
    """
    passes = list(passes)
    out: dict[str, dict[str, float]] = {}
    for kind in first:
        out[kind] = {}
        for stat in ("p50_us", "p99_us"):
            a, b = first[kind][stat], second[kind][stat]
            seen = [run[kind][stat] for run in passes]
            spread = max(seen) - min(seen) if seen else 0.0
            out[kind][stat] = round((a + b) / 2, 2)
            out[kind]["noise_" + stat] = round(max(abs(a - b), spread), 2)
    return out


def added(config: dict, base: dict) -> dict[str, dict[str, float]]:
    """What a configuration adds over the baseline, per kind, for p50 and p99 (negative: faster)."""
    return {
        kind: {stat: round(config[kind][stat] - base[kind][stat], 2) for stat in ("p50_us", "p99_us")}
        for kind in config
    }


def target(name: str, value: float | None, limit: float | None, text: str) -> dict[str, Any]:
    """One target: PASS when value <= limit, SKIP when either is unknown."""
    if value is None or limit is None:
        verdict = "SKIP"
    else:
        verdict = "PASS" if value <= limit else "FAIL"
    return {"name": name, "value_us": value, "limit_us": limit, "verdict": verdict, "rule": text}


def targets(base: dict, capture_added: dict | None, sentry_added: dict | None, xadd: dict | None) -> list[dict]:
    """The capture targets of issue 2, section 5."""
    cap = capture_added or {}

    def cap_p50(kind: str) -> float | None:
        return cap[kind]["p50_us"] if kind in cap else None

    xadd_limit = round(2 * xadd["p50_us"], 2) if xadd else None
    sentry_limit = round(0.10 * sentry_added["500"]["p50_us"], 2) if sentry_added else None
    return [
        target("healthy within the noise floor", cap_p50("healthy"), base["healthy"]["noise_p50_us"],
               "capture's added p50 on a healthy page <= the baseline's run-to-run noise (p50)"),
        target("500 <= 2x bare XADD", cap_p50("500"), xadd_limit,
               "capture's added p50 on a 500 <= 2 x one bare XADD round trip p50"),
        target("500 <= 10% of sentry-sdk", cap_p50("500"), sentry_limit,
               "capture's added p50 on a 500 <= 10 % of what sentry-sdk adds to the same 500"),
        target("CSRF page no slower than Django's", cap_p50("csrf"), base["csrf"]["noise_p50_us"],
               "capture's added p50 on a CSRF failure <= the noise floor (friendly page vs Django's own)"),
    ]


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den <= 0:
        return "—"
    return f"{num / den:.2f}"


def table(runs: dict, base: dict, adds: dict, stat: str) -> str:
    """A text table of one statistic (p50_us or p99_us) across configurations, with added time and ratios."""
    cap, sen = runs.get("capture"), runs.get("sentry")
    header = ("request", "plain A", "plain B", "noise", "capture", "+capture", "sentry", "+sentry", "+cap/+sentry",
              "cap/plain")
    rows = [header]
    for kind in KINDS:
        cap_add = adds["capture"][kind][stat] if cap else None
        sen_add = adds["sentry"][kind][stat] if sen else None
        rows.append((
            kind,
            _fmt(runs["plain_a"][kind][stat]),
            _fmt(runs["plain_b"][kind][stat]),
            _fmt(base[kind]["noise_" + stat]),
            _fmt(cap[kind][stat] if cap else None),
            _fmt(cap_add, signed=True),
            _fmt(sen[kind][stat] if sen else None),
            _fmt(sen_add, signed=True),
            _ratio(cap_add, sen_add),
            _ratio(cap[kind][stat] if cap else None, base[kind][stat]),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
