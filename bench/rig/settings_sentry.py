"""The baseline plus sentry-sdk's Django integration (tracing off), sending to a local sink."""

import os

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

from bench.rig.settings_plain import *  # noqa: F401,F403

sentry_sdk.init(
    dsn=os.environ["BENCH_SENTRY_DSN"],
    integrations=[DjangoIntegration()],
    traces_sample_rate=None,
    send_default_pii=False,
    release="bench",
    environment="bench",
)
