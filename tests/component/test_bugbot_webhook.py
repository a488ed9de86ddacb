"""The GitHub issues webhook: signatures, replays, status changes, and the sync that replaces it offline."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bugbot import filing, sync
from bugbot.models import KnownIssue, ProcessedDelivery
from contracts import known as known_map
from contracts.names import Names
from tests.bugbot_support.factories import error_signal
from tests.bugbot_support.fixtures import bugbot_env, down, fake_tracker  # noqa: F401

N = Names()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends,
              pytest.mark.urls("tests.bugbot_support.urls")]
URL = "/errors/github/webhook/"
SECRET = "webhook-secret-for-tests"


@pytest.fixture
def hook(fake_tracker, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_REPO": "o/r"}
    filing.handle_signal(error_signal())
    return Client(enforce_csrf_checks=True)


def payload(action, number=1, reason=None, repo="o/r"):
    return json.dumps({"action": action, "issue": {"number": number, "state_reason": reason},
                       "repository": {"full_name": repo}}).encode()


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, body, signature="sign", event="issues", delivery=None):
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4())}
    if signature == "sign":
        signature = sign(body)
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(URL, body, content_type="application/json", **headers)


def status():
    return KnownIssue.objects.get().status


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64,
                                       sign(payload("closed"), "wrong-secret")])
def test_unsigned_or_missigned_is_refused_and_changes_nothing(hook, signature):
    response = post(hook, payload("closed", reason="completed"), signature)
    assert response.status_code == 403
    assert status() == "open" and ProcessedDelivery.objects.count() == 0


def test_signature_over_another_body_is_refused(hook):
    response = post(hook, payload("closed"), sign(payload("reopened")))
    assert response.status_code == 403 and status() == "open"


def test_no_secret_configured_refuses_everything(hook, settings, caplog):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "GITHUB_WEBHOOK_SECRET": ""}
    assert post(hook, payload("closed"), sign(payload("closed"), "")).status_code == 403
    assert "GITHUB_WEBHOOK_SECRET is not set" in caplog.text


def test_closed_completed_fixes_and_republishes_then_reopened_opens(hook, bugbot_env):
    response = post(hook, payload("closed", reason="completed"))
    assert response.status_code == 200 and response.json()["outcome"] == "fixed:1"
    issue = KnownIssue.objects.get()
    assert issue.status == "fixed" and issue.fixed_at
    assert known_map.load(bugbot_env, Names()).exact[issue.error_fingerprint].status == "fixed"
    assert post(hook, payload("reopened")).json()["outcome"] == "open:1"
    assert status() == "open" and KnownIssue.objects.get().fixed_at is None


def test_closed_not_planned_is_wontfix(hook):
    assert post(hook, payload("closed", reason="not_planned")).json()["outcome"] == "wontfix:1"
    assert status() == "wontfix"


def test_replayed_delivery_is_applied_once(hook):
    delivery = str(uuid.uuid4())
    assert post(hook, payload("closed"), delivery=delivery).json()["outcome"] == "fixed:1"
    KnownIssue.objects.update(status="open", fixed_at=None)  # someone reopened it meanwhile
    replay = post(hook, payload("closed"), delivery=delivery)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert status() == "open" and ProcessedDelivery.objects.count() == 1


def test_other_repositories_actions_and_events_change_nothing(hook):
    assert post(hook, payload("closed", repo="someone/else")).json()["outcome"] == "other-repository"
    assert post(hook, payload("labeled")).json()["outcome"] == "unchanged:0"
    assert post(hook, payload("closed", number=99)).json()["outcome"] == "fixed:0"
    assert post(hook, payload("closed"), event="push").json()["outcome"] == "ignored"
    body = json.dumps({"action": "closed", "issue": {"number": "1"}}).encode()
    assert post(hook, body).json()["outcome"] == "other-repository"
    body = json.dumps({"action": "closed", "issue": "1", "repository": {"full_name": "O/R"}}).encode()
    assert post(hook, body).json()["outcome"] == "no-issue"
    assert str(ProcessedDelivery.objects.first()) == ProcessedDelivery.objects.first().delivery_id
    assert status() == "open"


def test_ping_bad_json_missing_delivery_and_get(hook):
    assert post(hook, b"{}", event="ping").json() == {"ok": True, "pong": True}
    assert post(hook, b"not json").status_code == 400
    assert post(hook, b"[1]").status_code == 400
    no_delivery = hook.post(URL, payload("closed"), content_type="application/json",
                            HTTP_X_GITHUB_EVENT="issues", HTTP_X_HUB_SIGNATURE_256=sign(payload("closed")))
    assert no_delivery.status_code == 400
    assert hook.get(URL).status_code == 405
    assert status() == "open"


def test_sync_pulls_states_when_no_webhook_reaches_us(hook, fake_tracker, bugbot_env):
    from bugbot import services

    fake_tracker.issues[1].update(state="closed", state_reason="completed")
    assert sync.sync_from_tracker(fake_tracker) == {"seen": 1, "changed": 1}
    assert status() == "fixed"
    assert bugbot_env.hget(N.scan_state, sync.SYNC_FIELD)
    fake_tracker.create("B-077: linked by hand", "no marker", [])
    services.mark_known(error_signal(9).fingerprint, "https://github.test/o/r/issues/2")
    fake_tracker.issues[2]["state"] = "closed"
    assert sync.sync_from_tracker(fake_tracker) == {"seen": 2, "changed": 1}  # unlabelled: asked for by number
    assert KnownIssue.objects.get(bug_id="B-077").status == "fixed"


def test_sync_leaves_an_issue_waiting_for_its_reopen_alone(hook, fake_tracker):
    KnownIssue.objects.update(needs_reopen=True)
    fake_tracker.issues[1]["state"] = "closed"
    assert sync.sync_from_tracker(fake_tracker)["changed"] == 0
    assert sync.sync_from_tracker(filing.get_tracker({"BUG_BACKEND": "local"})) == {"skipped": 1}


def test_push_state_with_nothing_to_push(hook, fake_tracker):
    KnownIssue.objects.update(issue_number=None)
    assert sync.push_state(KnownIssue.objects.get().pk, fake_tracker) == "nothing"
    assert sync.push_state(10_000, fake_tracker) == "nothing"


def test_prune_deliveries(hook):
    post(hook, payload("labeled"))
    ProcessedDelivery.objects.update(received_at=timezone.now() - timedelta(days=31))
    post(hook, payload("labeled"))
    assert sync.prune_deliveries() == 1 and ProcessedDelivery.objects.count() == 1


def test_signature_helper():
    assert sync.signature_ok("s", b"x", sign(b"x", "s"))
    assert not sync.signature_ok("s", b"x", sign(b"x", "s") + "0")
    assert not sync.signature_ok("s", b"x", "sha256=\u00e9")
    assert not sync.signature_ok("", b"x", sign(b"x", ""))
