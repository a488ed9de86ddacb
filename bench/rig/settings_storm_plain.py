"""The storm's baseline site under gunicorn: no monitoring (wrk addresses it as 127.0.0.1)."""

from bench.rig.settings_plain import *  # noqa: F401,F403

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
