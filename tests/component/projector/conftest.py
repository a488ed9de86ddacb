"""Projector component fixtures: the loop on fakeredis and the test database."""

from __future__ import annotations

import fakeredis
import pytest

from projector import conf
from projector.loop import Projector
from projector.store import for_alias
from tests.projector_support.timings import FAST


@pytest.fixture
def projector_settings(settings):
    """Fast loop timings; returns a function to change more keys."""

    def update(**values):
        settings.ERRORTRAIL = {**settings.ERRORTRAIL, **FAST, **values}
        return conf.get()

    update()
    return update


@pytest.fixture
def make_projector(projector_settings, fake_redis):
    """Build a Projector on fakeredis and the default database."""

    def build(client=None, **kwargs):
        kwargs.setdefault("consumer", "test-consumer")
        kwargs.setdefault("until_idle", True)
        return Projector(client or fake_redis, for_alias("default"), conf.get(), conf.names(), **kwargs)

    return build


@pytest.fixture
def names(projector_settings):
    return conf.names()


@pytest.fixture
def second_client(fake_server):
    return fakeredis.FakeRedis(server=fake_server)
