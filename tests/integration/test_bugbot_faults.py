"""Faults across processes and threads: a bugbot killed between create and commit, two bugbots on one signal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

from bugbot import bugids, filing, loop
from bugbot import connection as bugbot_connection
from bugbot.models import Filing, KnownIssue
from contracts import codec
from contracts import known as known_map
from contracts.names import Names
from tests.bugbot_support.factories import csrf_signal, error_signal
from tests.github_standin.fixtures import github_standin  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live(real_redis, github_standin, settings, redis_url):
    """Bugbot on the real Redis (a unique prefix) and the stand-in, as a separate process would see them."""
    client, prefix = real_redis
    settings.ERRORTRAIL = {
        **settings.ERRORTRAIL, "REDIS_URL": redis_url, "PREFIX": prefix, "BUG_BACKEND": "github",
        "GITHUB_API_URL": github_standin.url, "GITHUB_TOKEN": github_standin.token,
        "GITHUB_REPO": github_standin.repo_name, "GITHUB_THROTTLE": False, "BLOCK_MS": 50,
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"
    bugbot_connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()
    env = {
        **os.environ, "ERRORTRAIL_REDIS_URL": redis_url, "ERRORTRAIL_PREFIX": prefix,
        "ERRORTRAIL_BUG_BACKEND": "github", "GITHUB_API_URL": github_standin.url,
        "GITHUB_TOKEN": github_standin.token, "GITHUB_REPO": github_standin.repo_name,
        "BUGBOT_TEST_DB_NAME": str(connection.settings_dict["NAME"]), "PYTHONPATH": str(ROOT),
    }
    yield client, Names(prefix=prefix), env
    bugbot_connection.reset()
    filing._tracker = None
    bugids.remote_floor.reset()


def test_killed_between_create_and_commit_files_no_duplicate(live, github_standin, settings):
    client, names, env = live
    client.xadd(names.signals, {"e": codec.encode(csrf_signal())})
    done = subprocess.run([sys.executable, "-m", "tests.bugbot_support.crash_filer"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr[-2000:]
    assert github_standin.creates == 1
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.FILING and issue.bug_id == "B-002"
    assert client.xpending(names.signals, "bugbot")["pending"] == 1  # never acked
    # The restarted bugbot (same consumer name) takes the abandoned claim over at once with a zero lease.
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "FILING_LEASE_S": 0.0}
    loop.build("c1").run(until_idle=True)
    issue.refresh_from_db()
    assert github_standin.creates == 1 and issue.filing_state == Filing.FILED
    assert issue.issue_number == github_standin.issues()[-1].number
    assert client.xpending(names.signals, "bugbot")["pending"] == 0
    assert known_map.load(client, names).exact[issue.error_fingerprint].url == issue.github_issue_url


def run_threads(target, count):
    barrier = threading.Barrier(count)
    errors = []

    def body(index):
        try:
            barrier.wait(timeout=30)
            target(index)
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_two_bugbots_on_the_same_signal_file_one_issue(live, github_standin):
    event = error_signal()
    outcomes = []
    errors = run_threads(lambda i: outcomes.append(filing.handle_signal(event)), 2)
    assert not errors
    assert github_standin.creates == 1 and KnownIssue.objects.count() == 1
    assert sorted(o.split(":")[0] for o in outcomes) == ["created", "exists"]


def test_two_consumers_each_given_a_copy_of_a_signal_file_once(live, github_standin):
    client, names, _ = live
    event = csrf_signal()
    for _ in range(2):
        client.xadd(names.signals, {"e": codec.encode(event)})
    for n in range(3):
        client.xadd(names.signals, {"e": codec.encode(error_signal(n))})
    consumers = [loop.build(f"c{i}", count=1) for i in range(2)]
    errors = run_threads(lambda i: consumers[i].run(until_idle=True), 2)
    assert not errors
    assert github_standin.creates == 4 and KnownIssue.objects.count() == 4
    assert sorted(KnownIssue.objects.values_list("bug_id", flat=True)) == ["B-002", "B-003", "B-004", "B-005"]
    assert client.xpending(names.signals, "bugbot")["pending"] == 0
    assert sum(c.stats.processed for c in consumers) == 5 + 4  # and the four bug.filed entries they skipped
