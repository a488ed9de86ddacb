"""run_projector as a command, and the process-wide settings it applies."""

from __future__ import annotations

import gc
import io
import logging
import sys

import pytest
from django.core.management import CommandError, call_command

from projector import process, stream
from projector.management.commands.run_projector import parse_shards
from tests.projector_support.factories import counts, event, expected, xadd

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


@pytest.fixture
def command_redis(projector_settings, fake_redis, monkeypatch):
    monkeypatch.setattr(stream, "connect", lambda *a, **k: fake_redis)
    monkeypatch.setattr("projector.management.commands.run_projector.tune_process", lambda: None)
    monkeypatch.setattr("projector.management.commands.run_projector.install_signal_handlers", lambda p: None)
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.NullHandler()])
    return fake_redis


def test_run_projector_until_idle(command_redis, names):
    evs = [event(i % 4) for i in range(12)]
    xadd(command_redis, names, evs)
    out = io.StringIO()
    call_command("run_projector", "--until-idle", "--consumer", "cmd-1", stdout=out)
    assert counts() == expected(evs)
    assert "run_projector cmd-1: 12 events applied, 0 dead-lettered" in out.getvalue()


def test_run_projector_on_chosen_shards(command_redis, projector_settings):
    projector_settings(SHARDS=2)
    from projector import conf

    names = conf.names()
    evs = [event(i) for i in range(10)]
    xadd(command_redis, names, evs)
    call_command("run_projector", "--until-idle", "--shards", "1", stdout=io.StringIO())
    assert counts() == expected([e for e in evs if names.errors_for(e.fingerprint) == names.errors(1)])


def test_shard_options():
    assert parse_shards(None, 4) is None and parse_shards("", 4) is None
    assert parse_shards("2, 0,2", 4) == [0, 2]
    for bad in ("x", "4", "-1", ","):
        with pytest.raises(CommandError):
            parse_shards(bad, 4)


def test_tune_process_raises_the_first_threshold_and_shortens_the_switch_interval():
    before, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        process.tune_process()
        assert gc.get_threshold()[0] == 50_000 and gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == process.SWITCH_INTERVAL_S
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        sys.setswitchinterval(interval)


def test_default_consumer_names(monkeypatch):
    monkeypatch.setenv("ERRORTRAIL_CONSUMER", "box-7")
    assert process.default_consumer() == "box-7"
    monkeypatch.delenv("ERRORTRAIL_CONSUMER")
    assert process.default_consumer().endswith(f"-{__import__('os').getpid()}")
