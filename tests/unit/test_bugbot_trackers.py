"""Tracker backends without a network: gh's answer parsing and environment, PyGithub error mapping, local."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest
import requests
from github import GithubException

from bugbot.trackers import FATAL, RATE_LIMITED, RETRYABLE, TrackerError, get_tracker
from bugbot.trackers.gh import GhTracker, gh_environment, parse_response
from bugbot.trackers.github import GitHubTracker, ReadRetry
from bugbot.trackers.local import LocalTracker

CFG = {"GITHUB_REPO": "o/r", "GITHUB_TOKEN": "tok", "GITHUB_API_URL": "http://127.0.0.1:9", "MARKER_LABEL": "et",
       "GH_PATH": "gh", "GITHUB_TIMEOUT_S": 1.0, "SEED_SCAN_MAX_ISSUES": 10, "BUG_PREFIX": "B",
       "GITHUB_MAX_WAIT_S": 5.0, "GITHUB_READ_RETRIES": 0, "GITHUB_THROTTLE": False, "BUG_BACKEND": "github"}


def test_parse_response_shapes():
    assert parse_response(b"HTTP/2.0 201 Created\r\nRetry-After: 3\r\n\r\n{\"number\": 1}") == (
        201, {"Retry-After": "3"}, {"number": 1})
    html = parse_response(b"HTTP/1.1 502 Bad Gateway\n\n<html>oops</html>")
    assert html == (502, {}, {"message": "<html>oops</html>"})
    assert parse_response(b"") == (None, {}, None)
    assert parse_response(b"garbage\nX: y\n\n") == (None, {"X": "y"}, None)


def test_gh_environment_keeps_the_token_in_the_environment_only():
    env = gh_environment(CFG, base={"PATH": "/usr/bin", "GITHUB_TOKEN": "leak", "HTTP_PROXY": "http://evil"})
    assert env["GH_HOST"] == "github.localhost" and env["GH_TOKEN"] == "tok"
    assert env["HTTP_PROXY"] == "http://127.0.0.1:9" and "GITHUB_TOKEN" not in env and env["PATH"] == "/usr/bin"


def completed(stdout=b"", stderr=b"", code=0):
    return subprocess.CompletedProcess([], code, stdout, stderr)


def test_gh_failures_are_classified():
    def missing(*a, **k):
        raise FileNotFoundError("gh")

    with pytest.raises(TrackerError) as err:
        GhTracker(CFG, run=missing).get(1)
    assert err.value.kind == FATAL

    def slow(*a, **k):
        raise subprocess.TimeoutExpired("gh", 2)

    with pytest.raises(TrackerError) as err:
        GhTracker(CFG, run=slow).get(1)
    assert err.value.kind == RETRYABLE and "timed out" in str(err.value)

    crashed = GhTracker(CFG, run=lambda *a, **k: completed(stderr=b"gh: could not connect", code=1))
    with pytest.raises(TrackerError) as err:
        crashed.get(1)
    assert err.value.kind == RETRYABLE and "could not connect" in str(err.value)

    limited = GhTracker(CFG, run=lambda *a, **k: completed(
        b'HTTP/1.1 403 Forbidden\nRetry-After: 9\n\n{"message": "secondary rate limit"}', code=1))
    with pytest.raises(TrackerError) as err:
        limited.create("t", "b", [])
    assert (err.value.kind, err.value.wait_s) == (RATE_LIMITED, 9.0)


def test_gh_pages_stop_at_the_limit():
    page = b"HTTP/1.1 200 OK\nLink: <x>; rel=\"next\"\n\n[" + b",".join(
        b'{"number": %d, "title": "B-%03d: t", "body": ""}' % (n, n) for n in range(100)) + b"]"
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        return completed(page)

    assert GhTracker({**CFG, "SEED_SCAN_MAX_ISSUES": 150}, run=run).highest_bug_number() == 99
    assert len(calls) == 2


@pytest.mark.parametrize("cfg", [{"GITHUB_REPO": "nope"}, {"GITHUB_TOKEN": ""}])
def test_backends_refuse_incomplete_settings(cfg):
    for cls in (GhTracker, GitHubTracker):
        with pytest.raises(TrackerError) as err:
            cls({**CFG, **cfg})
        assert err.value.kind == FATAL


class Repo:
    def __init__(self, error):
        self.error = error

    def get_issues(self, **kwargs):
        raise self.error

    def create_issue(self, **kwargs):
        raise self.error


@pytest.mark.parametrize("error, kind", [
    (GithubException(401, {"message": "Bad credentials"}, {}), FATAL),
    (GithubException(502, "bad gateway", None), RETRYABLE),
    (requests.exceptions.RetryError("too many"), RETRYABLE),
    (requests.exceptions.ConnectionError("refused"), RETRYABLE),
    (AssertionError("url mismatch"), RETRYABLE),
])
def test_pygithub_errors_are_classified(error, kind):
    tracker = GitHubTracker(CFG, client=SimpleNamespace(get_repo=lambda name: Repo(error)))
    with pytest.raises(TrackerError) as err:
        tracker.create("t", "b", [])
    assert err.value.kind == kind
    with pytest.raises(TrackerError):
        tracker.changed_since(None)


def test_pygithub_passes_tracker_errors_and_stops_listings_at_their_limit():
    tracker = GitHubTracker(CFG, client=SimpleNamespace(get_repo=lambda name: None))
    with pytest.raises(TrackerError, match="mine"):
        tracker._call("x", lambda: (_ for _ in ()).throw(TrackerError("mine")))
    issues = (SimpleNamespace(body="", title=f"B-{n:03d}") for n in range(100))
    assert tracker._first(issues, "marker", 3) is None


def test_read_retry_raises_instead_of_sleeping_past_the_cap():
    retry = ReadRetry(cap_s=5, total=1, status_forcelist=[], allowed_methods=frozenset({"GET"}))
    assert retry.new(total=0).cap_s == 5
    response = SimpleNamespace(status=403, headers={"Retry-After": "30"}, getheader=lambda name: "30")
    retry.get_retry_after = lambda r: 30.0
    with pytest.raises(GithubException) as err:
        retry.sleep_for_retry(response)
    assert err.value.status == 403 and err.value.headers == {"Retry-After": "30"}


def test_local_tracker_and_factory():
    local = LocalTracker()
    assert local.find_existing("m", "k", None) is None and local.highest_bug_number() == 0
    assert local.reopen(3, "c", "m").state == "open" and local.set_state(3, "closed", "completed").state == "closed"
    assert local.get(3).number == 3 and local.changed_since(None) == []
    assert get_tracker({**CFG, "BUG_BACKEND": "local"}).name == "local"
    assert get_tracker({**CFG, "BUG_BACKEND": "gh"}).name == "gh"
