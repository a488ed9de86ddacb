"""Where a configuration spends a request: `python -m bench.rig.profile CONFIG KIND [ROUNDS]`.

Uses pyinstrument (sampling, little distortion) when it is importable, else cProfile. The worker's
environment variables (BENCH_REDIS_URL, BENCH_PREFIX, BENCH_SPOOL_DIR, BENCH_SENTRY_DSN) apply.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
from typing import Callable

from bench.rig import worker


def _app() -> Callable:
    import django
    from django.core.handlers.wsgi import WSGIHandler

    django.setup()
    return WSGIHandler()


def main(argv: list[str]) -> None:
    """Profile ROUNDS requests of one kind under one configuration and print where the time went."""
    config, kind = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 2000
    os.environ["DJANGO_SETTINGS_MODULE"] = worker.SETTINGS[config]
    app = _app()
    method, path, _ = worker.REQUESTS[kind]
    for _ in range(worker.WARMUP_ROUNDS):
        worker.call(app, worker.environ(method, path))
    envs = [worker.environ(method, path) for _ in range(rounds)]
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.0001)
        profiler.start()
        for env in envs:
            worker.call(app, env)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    profiler = cProfile.Profile()
    profiler.enable()
    for env in envs:
        worker.call(app, env)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
    print(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1:])
