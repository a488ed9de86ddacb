"""run_bugbot on fakeredis + SQLite: signals filed, audit entries skipped, strangers dead-lettered, signals handled."""

from __future__ import annotations

import signal

import pytest
from django.core.management import call_command

from bugbot import loop
from bugbot.models import Filing, KnownIssue
from contracts import codec, ids
from contracts.events import ErrorObserved
from contracts.names import Names
from tests.bugbot_support.factories import csrf_signal, fp
from tests.bugbot_support.fixtures import bugbot_env  # noqa: F401

N = Names()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]


def observed():
    return ErrorObserved(id=ids.new_id(), ts=1, status=404, error_type="404", cls="not_found", method="GET",
                         path="/x/", url="http://t/x/", fingerprint=fp("x"), basis="b")


def test_run_bugbot_files_signals_and_skips_its_own_audit_entries(bugbot_env):
    bugbot_env.xadd(N.signals, {"e": codec.encode(csrf_signal())})
    bugbot_env.xadd(N.signals, {"e": codec.encode(observed())})
    call_command("run_bugbot", "--until-idle", "--consumer", "t1")
    issue = KnownIssue.objects.get()
    assert issue.filing_state == Filing.FILED and issue.bug_id == "B-001"
    dead = bugbot_env.xrange(N.signals_dead)
    assert len(dead) == 1 and dead[0][1][b"reason"] == b"rejected: unexpected error.observed on the signals stream"
    # The bug.filed entry it wrote came back through the group and was skipped (acked) in the same run.
    types = [codec.decode(f[b"e"]).TYPE for _, f in bugbot_env.xrange(N.signals)]
    assert types == ["threshold.crossed", "error.observed", "bug.filed"]
    assert bugbot_env.xpending(N.signals, "bugbot")["pending"] == 0
    assert bugbot_env.xinfo_groups(N.signals)[0]["last-delivered-id"] == bugbot_env.xrevrange(
        N.signals, count=1)[0][0]
    assert not bugbot_env.exists(N.heartbeat("bugbot", "t1"))


def test_tick_retries_due_filings(bugbot_env):
    from bugbot import filing

    issue, _ = filing.record(csrf_signal())
    assert loop.tick() == {"filed": 1}
    assert KnownIssue.objects.get(pk=issue.pk).filing_state == Filing.FILED
    assert loop.tick() == {}


def test_first_signal_stops_gracefully_second_stops_now(bugbot_env):
    consumer = loop.build("t2")
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        loop.install_signal_handlers(consumer)
        handler = signal.getsignal(signal.SIGTERM)
        handler(signal.SIGTERM, None)
        assert consumer.stopping.is_set()
        with pytest.raises(SystemExit) as stopped:
            handler(signal.SIGTERM, None)
        assert stopped.value.code == 128 + signal.SIGTERM
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    assert consumer.run() == 0  # stopped before it began: nothing read
