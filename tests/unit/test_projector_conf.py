"""Projector settings, system checks and the database router."""

from __future__ import annotations

import pytest
from django.test import override_settings

from contracts.config import ConfigError
from projector import checks, conf
from projector.models import ErrorGroup
from projector.router import ProjectorRouter


def test_defaults():
    cfg = conf.get()
    assert cfg["THRESHOLD"] == 3 and cfg["BUG_CLASSES"] == ("app_error", "csrf", "broken_link")
    assert cfg["SAMPLES_PER_MINUTE"] == 10 and cfg["DATABASE"] == "default"
    assert cfg["PROJECTOR_BLOCK_MS"] < cfg["PROJECTOR_SOCKET_TIMEOUT_S"] * 1000
    assert conf.known_setting_names() == {s.name for s in conf.SETTINGS}


def test_the_story_environment_variables(monkeypatch):
    monkeypatch.setenv("ERROR_AUTO_BUG_THRESHOLD", "5")
    monkeypatch.setenv("ERRORTRAIL_BUG_CLASSES", "app_error, not_found")
    monkeypatch.setenv("ERRORTRAIL_PROJECTOR_LEASE_TTL_S", "2.5")
    conf.get.cache_clear()
    try:
        cfg = conf.get()
        assert cfg["THRESHOLD"] == 5 and cfg["BUG_CLASSES"] == ("app_error", "not_found")
        assert cfg["PROJECTOR_LEASE_TTL_S"] == 2.5
    finally:
        conf.get.cache_clear()


def test_settings_changes_reset_the_cache(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "THRESHOLD": 9, "PREFIX": "x:", "SHARDS": 4}
    assert conf.get()["THRESHOLD"] == 9
    assert conf.names().prefix == "x:" and conf.names().shards == 4


def test_a_bad_value_names_its_source(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "THRESHOLD": 0}
    with pytest.raises(ConfigError, match=r"ERRORTRAIL\['THRESHOLD'\]"):
        conf.get()
    assert [e.id for e in checks.check_settings()] == ["projector.E001"]


def test_a_clean_configuration_passes_the_checks():
    assert checks.check_settings() == []


def test_block_must_stay_under_the_socket_timeout(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "PROJECTOR_BLOCK_MS": 6000, "PROJECTOR_SOCKET_TIMEOUT_S": 5.0}
    assert [e.id for e in checks.check_settings()] == ["projector.E002"]


def test_an_unknown_database_alias(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "DATABASE": "nope"}
    assert [e.id for e in checks.check_settings()] == ["projector.E003"]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_another_alias_wants_the_router(settings):
    settings.DATABASES = {**settings.DATABASES, "events": settings.DATABASES["default"]}
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "DATABASE": "events"}
    assert [e.id for e in checks.check_settings()] == ["projector.W004"]
    settings.DATABASE_ROUTERS = [checks.ROUTER]
    assert checks.check_settings() == []


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_unsupported_vendors(settings):
    settings.DATABASES = {**settings.DATABASES, "default": {"ENGINE": "django.db.backends.mysql"}}
    assert [e.id for e in checks.check_settings()] == ["projector.E005"]


def test_the_router_sends_projector_models_to_the_configured_alias(settings):
    from django.contrib.auth.models import User

    router = ProjectorRouter()
    with override_settings(ERRORTRAIL={"DATABASE": "events"}):
        assert router.db_for_read(ErrorGroup) == router.db_for_write(ErrorGroup) == "events"
        assert router.db_for_read(User) is None
        assert router.allow_migrate("events", "errortrail_projector") is True
        assert router.allow_migrate("default", "errortrail_projector") is False
        assert router.allow_migrate("default", "auth") is None
    group = ErrorGroup(fingerprint="a")
    assert router.allow_relation(group, ErrorGroup(fingerprint="b")) is True
    assert router.allow_relation(group, User()) is False
    assert router.allow_relation(User(), User()) is None
