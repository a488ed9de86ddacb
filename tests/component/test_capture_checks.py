"""System checks, configuration from settings and environment, and the flush_error_spool command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from capture import checks, conf, publish
from contracts import codec

SECURITY = "django.middleware.security.SecurityMiddleware"
CAPTURE = "capture.middleware.ErrorCaptureMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"


def ids(messages):
    return [m.id for m in messages]


def test_the_test_site_is_wired_correctly():
    assert checks.check_middleware() == [] and checks.check_handlers() == [] and checks.check_config() == []


def test_e001_missing_middleware(settings):
    settings.MIDDLEWARE = [SECURITY, CSRF]
    (error,) = checks.check_middleware()
    assert error.id == "capture.E001" and "right after" in error.hint


@pytest.mark.parametrize("chain", [[SECURITY, CSRF, CAPTURE], [CAPTURE, SECURITY, CSRF]])
def test_e002_misplaced_middleware(settings, chain):
    settings.MIDDLEWARE = chain
    assert ids(checks.check_middleware()) == ["capture.E002"]


def test_w003_handlers_not_wired(settings):
    settings.ROOT_URLCONF = "tests.site.urls_bare"
    warnings = checks.check_handlers()
    assert ids(warnings) == ["capture.W003"] * 4
    assert 'handler404 = "capture.views.page_not_found"' in warnings[2].hint


def test_handlers_given_as_callables_count(settings, monkeypatch):
    from capture import views
    from tests.site import urls

    monkeypatch.setattr(urls, "handler404", views.page_not_found)
    assert checks.check_handlers() == []


def test_a_broken_urlconf_is_left_to_django(settings):
    settings.ROOT_URLCONF = "tests.site.does_not_exist"
    assert checks.check_handlers() == []


def test_w004_csrf_failure_view(settings):
    settings.CSRF_FAILURE_VIEW = "django.views.csrf.csrf_failure"
    assert ids(checks.check_handlers()) == ["capture.W004"]


def test_e005_bad_redis_url(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": "http://127.0.0.1:6379/0"}
    (error,) = checks.check_config()
    assert error.id == "capture.E005" and "redis://" in error.hint


@pytest.mark.parametrize(
    "bad",
    [{"SHARDS": 0}, {"SHARDS": "many"}, {"SOCKET_TIMEOUT_S": "soon"}, {"BACKGROUND": "perhaps"}, {"PREFIX": ""}],
)
def test_e006_unusable_values(settings, bad):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, **bad}
    assert ids(checks.check_config()) == ["capture.E006"]


def test_the_checks_run_with_djangos_check_command(settings):
    settings.MIDDLEWARE = [SECURITY]
    with pytest.raises(Exception, match="capture.E001"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


# -- settings and the story's environment variables --


@pytest.fixture
def environ(monkeypatch):
    for name in ("ERRORTRAIL_REDIS_URL", "REDIS_URL", "ERROR_MONITORING_ENABLED", "ERRORTRAIL_SPOOL_DIR"):
        monkeypatch.delenv(name, raising=False)
    conf.get.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    conf.get.cache_clear()
    conf.safe.cache_clear()


def test_redis_url_prefers_errortrail_redis_url_then_redis_url(environ):
    assert conf.get()["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    environ.setenv("REDIS_URL", "redis://shared:6379/1")
    conf.get.cache_clear()
    assert conf.get()["REDIS_URL"] == "redis://shared:6379/1"
    environ.setenv("ERRORTRAIL_REDIS_URL", "redis://own:6379/2")
    conf.get.cache_clear()
    assert conf.get()["REDIS_URL"] == "redis://own:6379/2"


def test_the_settings_dict_wins_over_the_environment(environ, settings):
    environ.setenv("ERRORTRAIL_REDIS_URL", "redis://env:6379/0")
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "REDIS_URL": "redis://settings:6379/0"}
    assert conf.get()["REDIS_URL"] == "redis://settings:6379/0"


@pytest.mark.parametrize(("raw", "enabled"), [("false", False), ("0", False), ("true", True), ("", True)])
def test_error_monitoring_enabled(environ, raw, enabled):
    environ.setenv("ERROR_MONITORING_ENABLED", raw)
    assert conf.get()["ENABLED"] is enabled


def test_spool_dir_from_the_environment(environ, settings, tmp_path):
    settings.ERRORTRAIL = {k: v for k, v in settings.ERRORTRAIL.items() if k != "SPOOL_DIR"}
    environ.setenv("ERRORTRAIL_SPOOL_DIR", str(tmp_path))
    assert conf.get()["SPOOL_DIR"] == str(tmp_path)


def test_extra_scrub_keys_are_added(settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "EXTRA_SCRUB_KEYS": "Pin,passphrase"}
    keys = conf.get()["SCRUB_KEYS"]
    assert "pin" in keys and "passphrase" in keys and "password" in keys
    assert checks.check_config() == []
    assert "SCRUB_KEYS" in conf.known_setting_names()


def test_unusable_settings_turn_capture_off_instead_of_breaking_pages(capture_site, settings, caplog):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SHARDS": -1}
    response = Client(raise_request_exception=False).get("/crash/")
    assert response.status_code == 500 and b"Something went wrong" in response.content
    assert conf.safe()["ENABLED"] is False
    assert "errortrail is off" in caplog.text
    assert capture_site.trips.take() == []


def test_shards_spread_events_by_fingerprint(capture_site, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SHARDS": 4}
    client = Client(raise_request_exception=False)
    for path in ("/nope/", "/crash/", "/denied/", "/teapot/", "/suspicious/", "/upstream/"):
        client.get(path)
    streams = [key.decode() for key in capture_site.redis.keys("errortrail:{*}:errors")]
    assert len(streams) > 1
    for name in streams:
        shard = int(name.split("{")[1].split("}")[0])
        for _, fields in capture_site.redis.xrange(name):
            assert int(codec.decode(fields[b"e"]).fingerprint[:8], 16) % 4 == shard


# -- flush_error_spool --


def test_flush_error_spool_sends_what_was_spooled(capture_site):
    client = Client(raise_request_exception=False)
    client.get("/nope/")
    capture_site.server.connected = False
    refs = [client.get("/crash/")["X-Error-Reference"] for _ in range(4)]
    publish.get_publisher().spool.seal_all()
    capture_site.server.connected = True
    out = io.StringIO()
    call_command("flush_error_spool", stdout=out)
    assert out.getvalue().startswith("flushed 4 events from ")
    assert "the spool is empty" in out.getvalue()
    ids = [codec.decode(f[b"e"]).id for _, f in capture_site.redis.xrange("errortrail:errors")]
    assert ids[1:] == refs
    out = io.StringIO()
    call_command("flush_error_spool", stdout=out)
    assert out.getvalue().startswith("flushed 0 events")


def test_flush_error_spool_reports_files_it_cannot_take(capture_site):
    client = Client(raise_request_exception=False)
    client.get("/nope/")
    capture_site.server.connected = False
    client.get("/crash/")  # stays in this (live) process's open file
    capture_site.server.connected = True
    out = io.StringIO()
    call_command("flush_error_spool", stdout=out)
    assert "some files remain" in out.getvalue()


def test_flush_error_spool_fails_loudly_when_redis_is_down(capture_site):
    client = Client(raise_request_exception=False)
    client.get("/nope/")
    capture_site.server.connected = False
    client.get("/crash/")
    publish.get_publisher().spool.seal_all()
    with pytest.raises(CommandError, match="could not flush"):
        call_command("flush_error_spool", stdout=io.StringIO())
