"""Inclusive time of capture's steps per request: `python -m bench.rig.segments KIND [ROUNDS]` (no profiler).

Each step is wrapped with a perf_counter timer where the caller looks it up, so the figures are
real per-call costs (plus ~0.3 µs of wrapper), unlike a profiler's. Same environment as the worker.
"""

from __future__ import annotations

import functools
import importlib
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from bench.rig import worker

# (module, attribute, label): the label's indentation shows what runs inside what.
STEPS = (
    ("capture.views", "observation_for", "view: observation_for (classify, fingerprint, known match)"),
    ("capture.middleware", "observe", "  observe"),
    ("capture.build", "exception_summary", "    exception_summary (type, message, in-app frames)"),
    ("capture.build", "classify", "    classify"),
    ("capture.build", "host_of", "    host_of"),
    ("contracts.fingerprint", "fingerprint", "    fingerprint (sha256)"),
    ("contracts.ids", "new_id", "    ids.new_id"),
    ("capture.views", "render_friendly", "view: render_friendly (friendly page)"),
    ("django.template.backends.django.Template", "render", "  Django template render"),
    ("capture.middleware", "report", "middleware: report (observe, schedule delivery)"),
    ("capture.middleware", "deliver", "close(): deliver (after the response)"),
    ("capture.middleware", "to_event", "  to_event (request data, scrubbing)"),
    ("capture.build", "request_data", "    request_data"),
    ("capture.build", "frame_entries", "    frame_entries (context lines, locals)"),
    ("capture.publish.Publisher", "publish", "  Publisher.publish"),
    ("contracts.codec", "encode", "    codec.encode (validate + msgpack)"),
    ("contracts.codec", "_validate", "      codec._validate"),
    ("redis.client.Pipeline", "execute", "    pipeline XADD + GET round trip"),
    ("capture.scrub.Scrubber", "text", "anywhere: Scrubber.text (regex scrubbing of one string)"),
)


def _resolve(dotted: str) -> Any:
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, cls = dotted.rpartition(".")
        return getattr(importlib.import_module(module), cls)


def instrument(timings: dict[str, list[float]]) -> None:
    """Wrap every step with a timer that appends its duration (µs) to timings[label]."""
    for owner_name, attr, label in STEPS:
        owner = _resolve(owner_name)
        original = getattr(owner, attr, None)
        if original is None:  # capture changed shape: time what still exists
            print(f"(no {owner_name}.{attr}; not timed)", file=sys.stderr)
            continue

        def timed(*args: Any, __original: Any = original, __label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return __original(*args, **kwargs)
            finally:
                timings[__label].append((time.perf_counter_ns() - start) / 1000)

        setattr(owner, attr, functools.wraps(original)(timed))


def main(argv: list[str]) -> None:
    """Time capture's steps over ROUNDS requests of one kind and print median and mean per request."""
    kind = argv[0]
    rounds = int(argv[1]) if len(argv) > 1 else 2000
    os.environ["DJANGO_SETTINGS_MODULE"] = worker.SETTINGS["capture"]
    import django
    from django.core.handlers.wsgi import WSGIHandler

    django.setup()
    app = WSGIHandler()
    timings: dict[str, list[float]] = defaultdict(list)
    instrument(timings)
    method, path, _ = worker.REQUESTS[kind]
    totals = []
    for i in range(worker.WARMUP_ROUNDS + rounds):
        if i == worker.WARMUP_ROUNDS:
            timings.clear()
        env = worker.environ(method, path)
        start = time.perf_counter_ns()
        worker.call(app, env)
        if i >= worker.WARMUP_ROUNDS:
            totals.append((time.perf_counter_ns() - start) / 1000)
    print(f"capture, {kind}: whole request median {statistics.median(totals):.1f} µs over {rounds} requests")
    print(f"{'step':64} {'calls/req':>9} {'median µs':>10} {'µs/req':>8}")
    for _, _, label in STEPS:
        values = timings.get(label, [])
        if values:
            print(f"{label:64} {len(values) / rounds:9.2f} {statistics.median(values):10.1f} {sum(values) / rounds:8.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
