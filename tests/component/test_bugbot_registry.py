"""The known-issue map follows KnownIssue rows: published after commit, replaced on key change, rebuilt on demand."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from bugbot import registry
from bugbot.models import KnownIssue
from contracts import known as known_map
from contracts.names import Names
from tests.bugbot_support.factories import fp
from tests.bugbot_support.fixtures import bugbot_env  # noqa: F401

N = Names()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]


def load(redis):
    return known_map.load(redis, Names())


def test_changes_publish_after_commit_only(bugbot_env):
    with transaction.atomic():
        issue = KnownIssue.objects.create(bug_id="B-001", bug_number=1, error_fingerprint=fp(1),
                                          friendly_message="Being fixed")
        assert len(load(bugbot_env)) == 0  # not before the commit
    snapshot = load(bugbot_env)
    assert snapshot.exact[fp(1)].message == "Being fixed" and snapshot.version == 1
    issue.status, issue.fixed_at = "fixed", timezone.now()
    issue.save()
    entry = load(bugbot_env).exact[fp(1)]
    assert entry.status == "fixed" and entry.fixed_at == int(issue.fixed_at.timestamp() * 1000)


def test_rolled_back_change_publishes_nothing(bugbot_env):
    with pytest.raises(RuntimeError), transaction.atomic():
        KnownIssue.objects.create(bug_id="B-001", bug_number=1, error_fingerprint=fp(1))
        raise RuntimeError
    assert bugbot_env.get(N.known_version) is None


def test_key_change_replaces_and_delete_removes(bugbot_env):
    issue = KnownIssue.objects.create(bug_id="B-001", bug_number=1, error_fingerprint=fp(1))
    issue = KnownIssue.objects.get(pk=issue.pk)
    issue.error_fingerprint, issue.error_type, issue.url_glob = "", "csrf", "/book/*"
    issue.save()
    assert set(bugbot_env.hkeys(N.known)) == {b"pat:B-001"}
    KnownIssue.objects.get(pk=issue.pk).delete()
    assert bugbot_env.hlen(N.known) == 0


def test_republish_rebuilds_a_lost_map_and_skips_invalid_rows(bugbot_env, caplog):
    KnownIssue.objects.create(bug_id="B-001", bug_number=1, error_fingerprint=fp(1))
    KnownIssue.objects.create(bug_id="B-002", bug_number=2, error_type="404", url_glob="/old/*")
    KnownIssue.objects.filter(bug_id="B-002").update(github_issue_url="javascript:alert(1)")  # no valid entry
    bugbot_env.delete(N.known)
    assert registry.republish() is not None
    assert set(load(bugbot_env).exact) == {fp(1)} and not load(bugbot_env).patterns
    assert "cannot be published" in caplog.text
    assert registry.publish_one(10_000) is None  # a row that is gone and had no key: nothing to do


def test_a_map_redis_lost_is_republished_by_the_next_tick(bugbot_env, caplog):
    from bugbot import loop

    assert registry.republish_if_lost() is None  # nothing known: nothing to restore
    KnownIssue.objects.create(bug_id="B-001", bug_number=1, error_fingerprint=fp(1), friendly_message="On it")
    assert registry.republish_if_lost() is None  # present: nothing to do
    bugbot_env.delete(N.known, N.known_version)  # Redis restarted without persistence
    loop.tick()
    assert load(bugbot_env).exact[fp(1)].message == "On it"
    assert "was missing from Redis" in caplog.text


def test_redis_down_is_logged_not_raised(bugbot_env, monkeypatch, caplog):
    import redis

    from bugbot import connection

    class Down:
        def pipeline(self, *a, **k):
            raise redis.ConnectionError("refused")

        def exists(self, *keys):
            raise redis.ConnectionError("refused")

    monkeypatch.setattr(connection, "client", lambda: Down())
    issue = KnownIssue.objects.create(bug_id="B-001", bug_number=1, error_fingerprint=fp(1))
    issue.delete()
    assert registry.republish() is None
    assert "could not publish known issue" in caplog.text
    assert "could not remove fp:" in caplog.text
    assert "could not republish" in caplog.text
    assert registry.republish_if_lost() is None  # Redis down: the next tick tries again
