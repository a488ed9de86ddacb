"""The projector's and bugbot's loops fed garbage mixed with odd but valid events, on fakeredis + the test database:
only dead letters for the garbage, never a crash or a stuck loop, every valid entry counted exactly. (The same
fuzz runs on PostgreSQL and the real Redis in tests/integration/test_fuzz_consumers_real.py.)"""

from __future__ import annotations

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bugbot_support.fixtures import bugbot_env  # noqa: F401
from tests.fuzz.consumers import fuzz_bugbot, fuzz_projector
from tests.fuzz.strategies import FUZZ

pytestmark = pytest.mark.django_db
FAST = {"PROJECTOR_BLOCK_MS": 5, "PROJECTOR_LEASE_TTL_S": 5.0, "PROJECTOR_HEARTBEAT_S": 0.5,
        "PROJECTOR_CLAIM_INTERVAL_S": 0.0, "PROJECTOR_BACKOFF_MAX_S": 0.05}


@pytest.fixture
def projector_cfg(settings):
    from projector import conf

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, **FAST}
    return dict(conf.get())


@settings(FUZZ, max_examples=20)
@given(st.data())
def test_the_projector_dead_letters_garbage_and_counts_every_valid_entry(projector_cfg, data):
    from contracts.names import Names

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    fuzz_projector(data, client, Names(), projector_cfg)


@pytest.mark.django_db(transaction=True)
@settings(FUZZ, max_examples=12)
@given(st.data())
def test_bugbot_dead_letters_garbage_and_files_every_valid_signal(bugbot_env, data):  # noqa: F811
    fuzz_bugbot(data, fakeredis.FakeRedis(server=fakeredis.FakeServer()), "fuzz:signals")
