"""The storm's site with capture at its production defaults (coalescing on), publishing to the bench's Redis."""

import json
import os

from bench.rig.settings_capture import *  # noqa: F401,F403
from bench.rig.settings_capture import ERRORTRAIL

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# settings_capture turns coalescing off to price one full event; the storm measures the defaults.
ERRORTRAIL = {key: value for key, value in ERRORTRAIL.items() if key not in ("COALESCE_FULL", "MAX_EVENTS_PER_S")}
# Experiments only (bench/README.md): BENCH_STORM_ERRORTRAIL='{"BACKGROUND": false}' and the like.
ERRORTRAIL.update(json.loads(os.environ.get("BENCH_STORM_ERRORTRAIL") or "{}"))
