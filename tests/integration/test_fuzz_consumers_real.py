"""The consumer fuzz of tests/component/test_fuzz_consumers.py on the real Redis (and, on the Makefile's second
pass, PostgreSQL): garbage only dead-lettered, no crash, no stuck loop, every valid entry counted exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.component.test_fuzz_consumers import FAST
from tests.fuzz.consumers import fuzz_bugbot, fuzz_projector, unique
from tests.fuzz.strategies import FUZZ

pytestmark = [pytest.mark.integration, pytest.mark.backends]


@pytest.fixture
def real(settings, real_redis, redis_url):
    """The real Redis under the test's unique prefix, for the projector and bugbot alike."""
    from bugbot import bugids, connection, filing

    client, prefix = real_redis
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, **FAST, "REDIS_URL": redis_url, "PREFIX": prefix,
                           "BUG_BACKEND": "local", "FILING_BACKOFF_S": 0.0, "GITHUB_MAX_WAIT_S": 0.0}
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"
    connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()
    yield client, prefix
    connection.reset()
    filing._tracker = None


@pytest.mark.django_db
@settings(FUZZ, max_examples=8)
@given(st.data())
def test_the_projector_on_real_redis(real, data):
    from contracts.names import Names
    from projector import conf

    client, prefix = real
    fuzz_projector(data, client, Names(prefix=unique(prefix)), dict(conf.get()))


@pytest.mark.django_db(transaction=True)
@settings(FUZZ, max_examples=8)
@given(st.data())
def test_bugbot_on_real_redis(real, data):
    client, prefix = real
    fuzz_bugbot(data, client, unique(prefix) + "signals")
