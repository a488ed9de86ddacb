"""The baseline plus errortrail's capture, wired as the README says, publishing to a real Redis."""

import os

from bench.rig.settings_plain import *  # noqa: F401,F403
from bench.rig.settings_plain import INSTALLED_APPS, MIDDLEWARE

ROOT_URLCONF = "bench.rig.urls_capture"
INSTALLED_APPS = [*INSTALLED_APPS, "capture"]
MIDDLEWARE = [MIDDLEWARE[0], "capture.middleware.ErrorCaptureMiddleware", *MIDDLEWARE[1:]]
CSRF_FAILURE_VIEW = "capture.views.csrf_failure"
ERRORTRAIL = {
    "REDIS_URL": os.environ["BENCH_REDIS_URL"],
    "PREFIX": os.environ["BENCH_PREFIX"],
    "SPOOL_DIR": os.environ["BENCH_SPOOL_DIR"],
    "RELEASE": "bench",
    "ENVIRONMENT": "bench",
    # Every request takes the full path (event built and sent): what one captured error costs.
    # Storm coalescing, which folds repeats into counts, is measured by bench/storm.py.
    "COALESCE_FULL": 10**9,
    "MAX_EVENTS_PER_S": 10**9,
}
