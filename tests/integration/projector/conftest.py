"""Real Redis and the real test database, with run_projector as subprocesses that can be killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projector import conf

REPO = Path(__file__).resolve().parents[3]
FAST = {
    "PROJECTOR_BLOCK_MS": "100",
    "PROJECTOR_LEASE_TTL_S": "1.5",
    "PROJECTOR_HEARTBEAT_S": "0.3",
    "PROJECTOR_BATCH_COUNT": "25",
    "PROJECTOR_BACKOFF_MAX_S": "0.2",
}


def wait_for(predicate, timeout=60.0, what="condition"):
    """Poll another process's progress with a generous timeout."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.02)


@pytest.fixture
def live(settings, real_redis, redis_url, tmp_path):
    """Settings on the real Redis under a unique prefix; .spawn() starts run_projector in a subprocess."""
    from django.db import connection

    client, prefix = real_redis
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "PREFIX": prefix, "REDIS_URL": redis_url,
                           **{k: float(v) if "." in v else int(v) for k, v in FAST.items()}}
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(REPO),
           "ERRORTRAIL_REDIS_URL": redis_url, "ERRORTRAIL_PREFIX": prefix}
    env.update({f"ERRORTRAIL_{k}": v for k, v in FAST.items()})
    env.pop("ERRORTRAIL_TEST_CRASH_AT", None)
    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        env.update(ERRORTRAIL_TEST_PGDATABASE=name, ERRORTRAIL_TEST_PGNAME=name)
    else:
        env["ERRORTRAIL_TEST_SQLITE_PATH"] = name
    procs: list[subprocess.Popen] = []

    class Live:
        redis = client
        names = conf.names()

        @staticmethod
        def spawn(consumer, *args, crash=None, until_idle=True):
            extra = {"ERRORTRAIL_TEST_CRASH_AT": crash} if crash else {}
            log = open(tmp_path / f"{consumer}-{len(procs)}.log", "w")
            command = [sys.executable, "-m", "django", "run_projector", "--consumer", consumer, *args]
            if until_idle:
                command.append("--until-idle")
            proc = subprocess.Popen(command, cwd=REPO, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT)
            proc.log_path = log.name
            procs.append(proc)
            return proc

        @staticmethod
        def finish(proc, timeout=120):
            """Wait for a subprocess; returns (exit code, its output)."""
            code = proc.wait(timeout)
            return code, Path(proc.log_path).read_text()

    yield Live
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
