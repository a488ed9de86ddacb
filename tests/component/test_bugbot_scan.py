"""The periodic scan, its Celery tasks and commands, the Celery app, bugbot's settings and system checks."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from bugbot import conf, scan, tasks
from bugbot.models import Filing, KnownIssue
from contracts import known as known_map
from contracts.config import ConfigError
from contracts.names import Names
from tests.bugbot_support.factories import csrf_signal, fp
from tests.bugbot_support.fixtures import bugbot_env, fake_tracker  # noqa: F401

N = Names()
pytestmark = pytest.mark.django_db(transaction=True)

calls = []


def step_ok():
    calls.append("ok")
    return {"done": 1}


def step_broken():
    raise RuntimeError("step exploded")


def test_run_tolerates_missing_and_failing_steps(bugbot_env, caplog):
    calls.clear()
    steps = ("projector.maintenance.no_such_step", f"{__name__}.step_broken", f"{__name__}.step_ok")
    results = scan.run(steps)
    assert "missing" in results[steps[0]] and "not available" in caplog.text
    assert results[steps[1]] == {"error": "RuntimeError: step exploded"}
    assert results[steps[2]]["result"] == {"done": 1} and calls == ["ok"]
    recorded = json.loads(bugbot_env.hget(N.scan_state, "bugbot:last_result"))
    assert set(recorded) == set(steps) and bugbot_env.hget(N.scan_state, "bugbot:last_run_ms")


def test_default_scan_republishes_retries_and_syncs(fake_tracker, bugbot_env, settings):
    from bugbot import filing

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_BUGS_PER_HOUR": 0}
    filing.handle_signal(csrf_signal())
    assert KnownIssue.objects.get().filing_state == Filing.HELD
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "MAX_BUGS_PER_HOUR": 5}
    bugbot_env.delete(N.known)
    results = tasks.scan_errors.delay().get()
    assert results["bugbot.scan.retry_filings"]["result"] == {"filed": 1}
    assert results["bugbot.scan.republish"]["result"]["version"] >= 1
    assert results["bugbot.scan.sync_issues"]["result"] == {"seen": 0, "changed": 0}  # ran before the retry
    assert list(results)[-4:] == ["bugbot.scan.sync_issues", "bugbot.scan.retry_filings", "bugbot.scan.republish",
                                  "bugbot.scan.prune_deliveries"]
    assert results["bugbot.scan.prune_deliveries"]["result"] == {"deleted": 0}
    assert fp("csrf-book") in known_map.load(bugbot_env, Names()).exact
    assert "missing" in results["projector.maintenance.prune"] or "result" in results["projector.maintenance.prune"]


def test_scan_errors_command_prints_each_step(bugbot_env, settings, capsys):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SCAN_STEPS": ["bugbot.scan.republish"]}
    call_command("scan_errors")
    assert capsys.readouterr().out.startswith('bugbot.scan.republish: {"result": {"version": 1}')


def test_file_bug_task_by_fingerprint_or_bug_id(bugbot_env):
    from bugbot import filing, services

    issue, _ = filing.record(csrf_signal())
    assert tasks.file_bug.delay(issue.error_fingerprint).get() == "filed"
    pattern = services.create_pattern_issue("404", "/old/*")
    KnownIssue.objects.filter(pk=pattern.pk).update(filing_state=Filing.PENDING)
    assert tasks.file_bug.delay(pattern.bug_id).get() == "filed"
    assert tasks.file_bug.delay(fp("nobody")).get() == "missing"


def test_celery_app_reads_django_settings_and_schedules_the_scan(settings):
    from bugbot.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert app.conf.task_always_eager is True
    schedule = app.conf.beat_schedule["errortrail-scan-errors"]
    assert schedule["task"] == "bugbot.tasks.scan_errors" and schedule["schedule"] == 3600.0
    assert "bugbot.tasks.scan_errors" in app.tasks and "bugbot.tasks.file_bug" in app.tasks


def test_settings_resolution(settings, monkeypatch):
    settings.ERRORTRAIL = {}
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_REPO", raising=False)
    conf.get.cache_clear()
    assert conf.get()["BUG_BACKEND"] == "local"
    settings.ERRORTRAIL = {"GITHUB_TOKEN": "t", "GITHUB_REPO": "o/r", "LABELS": "bug", "GITHUB_API_URL": "https://x/"}
    cfg = conf.get()
    assert cfg["BUG_BACKEND"] == "github" and cfg["LABELS"] == ("bug", "errortrail")
    assert cfg["GITHUB_API_URL"] == "https://x" and cfg["CONSUMER"]
    monkeypatch.setenv("ERRORTRAIL_MAX_BUGS_PER_HOUR", "7")
    monkeypatch.setenv("ERROR_SCAN_INTERVAL_MINUTES", "15")
    settings.ERRORTRAIL = {"MARKER_LABEL": ""}
    assert (conf.get()["MAX_BUGS_PER_HOUR"], conf.get()["SCAN_INTERVAL_MINUTES"]) == (7, 15)
    assert conf.get()["LABELS"] == ("bug", "errortrail") and "MAX_BUGS_PER_DAY" in conf.known_setting_names()
    for bad in ({"BUG_BACKEND": "jira"}, {"BUG_PREFIX": "b"}, {"MAX_BUGS_PER_DAY": -1}):
        settings.ERRORTRAIL = bad
        with pytest.raises(ConfigError):
            conf.get()
    settings.ERRORTRAIL = {"PREFIX": "other:"}
    assert conf.names().signals == "other:signals"


def test_system_checks(settings, monkeypatch):
    from bugbot import checks

    ids = lambda: [m.id for m in checks.check_config()]  # noqa: E731
    settings.ERRORTRAIL = {"BUG_BACKEND": "local"}
    assert ids() == []
    settings.ERRORTRAIL = {"BUG_BACKEND": "github"}
    assert ids() == ["bugbot.E002", "bugbot.W001"]
    settings.ERRORTRAIL = {"BUG_BACKEND": "gh", "GITHUB_REPO": "o/r", "GITHUB_TOKEN": "t",
                           "GITHUB_WEBHOOK_SECRET": "s", "GH_PATH": "/nonexistent/gh"}
    assert ids() == ["bugbot.E003"]
    settings.ERRORTRAIL = {"MAX_BUGS_PER_HOUR": "many"}
    assert ids() == ["bugbot.E001"]
