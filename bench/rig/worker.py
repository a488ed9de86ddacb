"""One benchmark configuration in its own process: `python -m bench.rig.worker CONFIG ROUNDS` prints raw samples (ns) as JSON."""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import time
from typing import Any, Callable

from bench.rig.stats import KINDS

SETTINGS = {
    "plain": "bench.rig.settings_plain",
    "capture": "bench.rig.settings_capture",
    "sentry": "bench.rig.settings_sentry",
}
# kind -> (method, path, expected status); the CSRF post carries a form but no cookie and no token.
REQUESTS = {
    "healthy": ("GET", "/pets/8/", 200),
    "404": ("GET", "/pets/999/", 404),
    "500": ("GET", "/pets/7/invoice/", 500),
    "csrf": ("POST", "/appointments/7/book/", 403),
}
FORM = b"day=2030-01-02&slot=09%3A30&reason=Check-up"
# Requests of one kind run in blocks: one at a time, a kind would pay for the previous kind's garbage
# collection and cold caches (a 500 leaves reference cycles behind); a site mostly serves runs of healthy pages.
BLOCK = 50
WARMUP_BLOCKS = 4
WARMUP_ROUNDS = WARMUP_BLOCKS * BLOCK


def environ(method: str, path: str) -> dict[str, Any]:
    """A WSGI environ like the one gunicorn builds for a browser's request."""
    body = FORM if method == "POST" else b""
    env = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "testserver",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.5",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    if body:
        env.update(CONTENT_TYPE="application/x-www-form-urlencoded", CONTENT_LENGTH=str(len(body)))
    return env


def call(app: Callable, env: dict[str, Any]) -> tuple[int, int, int]:
    """One full WSGI request; (status, ns until the body was produced, ns until close() returned).

    A WSGI server sends the body before it calls close(), so the first figure is what the client waits
    for and the second is how long the worker is busy with the request.
    """
    status: list[str] = []
    start = time.perf_counter_ns()
    chunks = app(env, lambda s, headers, exc_info=None: status.append(s))
    try:
        b"".join(chunks)
        answered = time.perf_counter_ns()
    finally:
        chunks.close()
    return int(status[0].split()[0]), answered - start, time.perf_counter_ns() - start


def measure_django(config: str, rounds: int) -> dict[str, Any]:
    """Per-kind latency of the full WSGI handler under one settings module, kinds in rotating blocks."""
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS[config]
    import django
    from django.core.handlers.wsgi import WSGIHandler

    django.setup()
    app = WSGIHandler()
    for kind, (method, path, expected) in REQUESTS.items():
        got = call(app, environ(method, path))[0]
        if got != expected:
            raise SystemExit(f"{config}: {kind} answered {got}, expected {expected}")
    samples: dict[str, list[int]] = {kind: [] for kind in REQUESTS}
    closed: dict[str, list[int]] = {kind: [] for kind in REQUESTS}
    order = list(REQUESTS)
    blocks = WARMUP_BLOCKS + -(-rounds // BLOCK)
    for i in range(blocks):
        if i == WARMUP_BLOCKS:
            gc.collect()
        measured = i >= WARMUP_BLOCKS
        size = min(BLOCK, rounds - (i - WARMUP_BLOCKS) * BLOCK) if measured else BLOCK
        # Rotate the order of the blocks each round so no kind always follows the same one.
        for kind in order[i % 4:] + order[: i % 4]:
            method, path, _ = REQUESTS[kind]
            for _ in range(size):
                _, answered, busy = call(app, environ(method, path))
                if measured:
                    samples[kind].append(answered)
                    closed[kind].append(busy)
    return {
        "samples": {kind: samples[kind] for kind in KINDS},
        "closed_samples": {kind: closed[kind] for kind in KINDS},
        "errors_per_kind": WARMUP_ROUNDS + rounds + 1,
    }


def measure_xadd(rounds: int) -> dict[str, Any]:
    """One XADD round trip of a pre-encoded 1 KB msgpack event, as capture sends it (MAXLEN ~)."""
    import msgpack
    import redis

    client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    stream = os.environ["BENCH_PREFIX"] + "xadd"
    event = {"v": 1, "type": "error.observed", "id": "06H45V34X8R8QBCA6ZBC", "ts": 1_796_000_000_000, "status": 500,
             "path": "/pets/7/invoice/", "exc_type": "KeyError", "pad": ""}
    event["pad"] = "x" * (1024 - len(msgpack.packb(event)))
    data = msgpack.packb(event)
    version = os.environ["BENCH_PREFIX"] + "version"

    def pipelined() -> None:
        pipe = client.pipeline(transaction=False)
        pipe.xadd(stream, {"e": data}, maxlen=1_000_000, approximate=True)
        pipe.get(version)
        pipe.execute()

    samples: dict[str, list[int]] = {"xadd": [], "xadd_get_pipeline": []}
    for i in range(WARMUP_ROUNDS + rounds):
        for name in samples:
            start = time.perf_counter_ns()
            if name == "xadd":
                client.xadd(stream, {"e": data}, maxlen=1_000_000, approximate=True)
            else:
                pipelined()
            elapsed = time.perf_counter_ns() - start
            if i >= WARMUP_ROUNDS:
                samples[name].append(elapsed)
    client.delete(stream)
    return {"samples": samples, "event_bytes": len(data)}


def main(argv: list[str]) -> None:
    """Run one configuration and print its results as one JSON line."""
    config, rounds = argv[0], int(argv[1])
    result = measure_xadd(rounds) if config == "xadd" else measure_django(config, rounds)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
