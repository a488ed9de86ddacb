"""The GitHub stand-in over real HTTP, driven by the real PyGithub client and the real `gh` binary."""

import http.client
import json
import queue
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from github import GithubException, GithubRetry
from github.GithubException import (BadCredentialsException, RateLimitExceededExceedsMaxWait,
                                    RateLimitExceededException, UnknownObjectException)

from tests.github_standin import GitHubStandIn, webhook
from tests.github_standin.clients import notes_retry, pygithub_client
from tests.github_standin.fixtures import gh_cli, github_standin  # noqa: F401

MARKER = "<!-- errortrail:fp=3f2a9c -->"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw(standin, method, target, body=None, headers=None, token=True):
    """One request with http.client; returns (status, headers message, parsed JSON or None)."""
    connection = http.client.HTTPConnection(standin.host, standin.port, timeout=15)
    sent = {"Authorization": f"token {standin.token}"} if token else {}
    connection.request(method, target, body=body, headers={**sent, **(headers or {})})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, response.msg, json.loads(payload) if payload else None


def control(standin, method, path, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(standin.url + path, data=data, method=method)
    with NO_PROXY.open(request, timeout=15) as response:
        body = response.read()
        return response.status, json.loads(body) if body else None


# PyGithub, configured as NOTES.md says
def test_create_list_by_label_and_search_by_marker(github_standin):
    repo = github_standin.pygithub().get_repo(github_standin.repo_name)
    created = repo.create_issue(title="B-002: CSRF failure on POST /book/", body=f"Fingerprint\n{MARKER}",
                                labels=["bug", "errortrail"])
    repo.create_issue(title="B-003: unrelated", labels=["bug"])
    assert created.number == 2 and created.html_url.endswith("/errortrail/site/issues/2")
    assert created.html_url.startswith(github_standin.url)
    listed = repo.get_issues(labels=["errortrail"], state="all")
    assert [issue.number for issue in listed] == [2]
    found = github_standin.pygithub().search_issues(f'"{MARKER}" repo:{github_standin.repo_name} is:issue in:body')
    assert [issue.number for issue in found] == [2] and found.totalCount == 1
    by_title = github_standin.pygithub().search_issues(f'"B-003" repo:{github_standin.repo_name} is:issue in:title')
    assert [issue.number for issue in by_title] == [3]
    assert github_standin.creates == 2 and sorted(github_standin.labels()) == ["bug", "errortrail"]


def test_close_with_state_reason_reopen_and_comment(github_standin):
    repo = github_standin.pygithub().get_repo(github_standin.repo_name)
    issue = repo.create_issue(title="B-002: x")
    issue.edit(state="closed", state_reason="not_planned")
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    assert github_standin.issue(2).state_reason == "not_planned"
    issue.edit(state="open")
    issue.create_comment("Seen again after the fix: 4 times since 10:00.")
    stored = github_standin.issue(2)
    assert (stored.state, stored.state_reason, stored.comments) == ("open", "reopened", 1)
    assert [c.body for c in repo.get_issue(2).get_comments()] == ["Seen again after the fix: 4 times since 10:00."]
    assert repo.get_issue(1).state == "closed"


@pytest.mark.parametrize("enterprise", [False, True], ids=["github.com-style", "enterprise-api-v3"])
def test_listing_paginates_with_absolute_link_urls(github_standin, enterprise):
    for n in range(74):
        github_standin.add_issue(f"filler {n}", labels=["errortrail"])
    issues = github_standin.pygithub(enterprise=enterprise).get_repo(github_standin.repo_name).get_issues(state="all")
    assert [issue.number for issue in issues] == list(range(75, 0, -1))
    pages = [parse_qs(r.query) for r in github_standin.requests_to("GET", "/repos/*/*/issues")]
    assert pages == [{"state": ["all"]}, {"state": ["all"], "page": ["2"]}, {"state": ["all"], "page": ["3"]}]


def test_since_filters_on_update_time():
    clock = type("Clock", (), {"now": 1_800_000_000.0, "__call__": lambda self: self.now})()
    with GitHubStandIn(clock=clock) as standin:
        standin.add_issue("old")
        clock.now += 7200
        standin.add_issue("new")
        since = datetime.fromtimestamp(clock.now - 60, timezone.utc)
        repo = standin.pygithub().get_repo(standin.repo_name)
        assert [issue.title for issue in repo.get_issues(state="all", since=since)] == ["new"]


def test_search_can_lag_behind_the_listing_like_github():
    with GitHubStandIn(search_lag=True) as standin:
        client = standin.pygithub()
        client.get_repo(standin.repo_name).create_issue(title="B-002: x", body=MARKER, labels=["errortrail"])
        query = f'"{MARKER}" repo:{standin.repo_name} is:issue in:body'
        assert list(client.search_issues(query)) == []
        assert [i.number for i in client.get_repo(standin.repo_name).get_issues(labels=["errortrail"])] == [2]
        standin.reindex()
        assert [issue.number for issue in client.search_issues(query)] == [2]


def test_502_after_create_makes_one_issue_and_the_call_raises(github_standin):
    github_standin.fail_after_create(502)
    repo = github_standin.pygithub().get_repo(github_standin.repo_name)
    with pytest.raises(GithubException) as caught:
        repo.create_issue(title="B-002: x", body=MARKER)
    assert caught.value.status == 502
    assert github_standin.creates == 1 and [i.title for i in github_standin.issues()][-1] == "B-002: x"
    assert [r.status for r in github_standin.requests_to("POST", "*")] == [502]


def test_the_default_pygithub_retry_turns_502_after_create_into_two_issues(github_standin):
    """Documents the trap NOTES.md describes: never use the default retry for creates."""
    github_standin.fail_after_create(502)
    repo = github_standin.pygithub(retry="default").get_repo(github_standin.repo_name)
    issue = repo.create_issue(title="B-002: x")
    assert issue.number == 3 and github_standin.creates == 2
    assert [r.status for r in github_standin.requests_to("POST", "*")] == [502, 201]


def test_a_dropped_connection_after_create_is_re_posted_unless_post_is_not_retried(github_standin):
    """Second trap: GithubRetry retries POST on read errors even with status_forcelist=[]."""
    github_standin.drop_connection(method="POST", after=True)
    github_standin.pygithub().get_repo(github_standin.repo_name).create_issue(title="twice")
    assert github_standin.creates == 2
    safe = notes_retry(allowed_methods=GithubRetry.DEFAULT_ALLOWED_METHODS)
    github_standin.drop_connection(method="POST", after=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        github_standin.pygithub(retry=safe).get_repo(github_standin.repo_name).create_issue(title="once")
    assert github_standin.creates == 3
    assert [r.status for r in github_standin.requests_to("POST", "*")] == [None, 201, None]


def test_secondary_rate_limit_is_retried_after_retry_after_then_surfaces_as_retry_error(github_standin):
    repo = github_standin.pygithub().get_repo(github_standin.repo_name)
    github_standin.secondary_rate_limit(retry_after=0, times=1, method="POST")
    assert repo.create_issue(title="after one 403").number == 2
    github_standin.secondary_rate_limit(retry_after=0, times=None, method="POST")
    with pytest.raises(requests.exceptions.RetryError):
        repo.create_issue(title="never")
    assert github_standin.creates == 1
    assert [r.status for r in github_standin.requests_to("POST", "*")] == [403, 201, 403, 403, 403, 403]


def test_secondary_rate_limit_without_post_retries_raises_the_rate_limit_exception(github_standin):
    no_post = notes_retry(allowed_methods=GithubRetry.DEFAULT_ALLOWED_METHODS)
    github_standin.secondary_rate_limit(retry_after=0, times=None)
    with pytest.raises(RateLimitExceededException) as caught:
        github_standin.pygithub(retry=no_post).get_repo(github_standin.repo_name).create_issue(title="x")
    assert caught.value.headers["retry-after"] == "0"
    assert [r.status for r in github_standin.requests_to("POST", "*")] == [403]


def test_primary_rate_limit_beyond_the_wait_cap_raises_at_once(github_standin):
    github_standin.primary_rate_limit(reset_in=3600)
    with pytest.raises(RateLimitExceededExceedsMaxWait) as caught:
        github_standin.pygithub().get_repo(github_standin.repo_name).get_issue(1).title
    assert caught.value.headers["x-ratelimit-remaining"] == "0"


def test_exhausting_the_real_rate_limit_answers_403_with_remaining_zero():
    with GitHubStandIn(rate_limits={"core": 2}) as standin:
        repo = standin.pygithub(retry=None).get_repo(standin.repo_name)
        repo.get_issue(1).title, repo.get_issue(1).title
        with pytest.raises(RateLimitExceededException):
            repo.get_issue(1).title
        assert standin.pygithub().get_rate_limit().resources.core.remaining == 0


def test_bad_credentials(github_standin):
    with pytest.raises(BadCredentialsException):
        github_standin.pygithub(token="wrong").get_repo(github_standin.repo_name).get_issue(1).title
    github_standin.bad_credentials()
    with pytest.raises(BadCredentialsException):
        github_standin.pygithub().get_repo(github_standin.repo_name).get_issue(1).title
    status, _, body = raw(github_standin, "GET", "/repos/errortrail/site", token=False)
    assert (status, body["message"]) == (401, "Requires authentication")


def test_5xx_on_a_read_is_not_retried_with_the_projects_client(github_standin):
    github_standin.fail(500, times=None, method="GET", path="/repos/*/*/issues/1")
    with pytest.raises(GithubException) as caught:
        github_standin.pygithub().get_repo(github_standin.repo_name).get_issue(1).title
    assert caught.value.status == 500 and len(github_standin.requests) == 1


def test_not_found_and_invalid_requests(github_standin):
    client = github_standin.pygithub()
    with pytest.raises(UnknownObjectException):
        client.get_repo(github_standin.repo_name).get_issue(99).title
    with pytest.raises(UnknownObjectException):
        client.get_repo("someone/else").get_issue(1).title
    with pytest.raises(GithubException) as caught:
        list(client.search_issues(f'"{MARKER}" repo:{github_standin.repo_name} in:body'))
    assert caught.value.status == 422 and "is:issue" in caught.value.data["errors"][0]["message"]
    with pytest.raises(GithubException) as caught:
        client.get_repo(github_standin.repo_name).create_issue(title="")
    assert caught.value.status == 422


def test_labels_user_repository_and_listing_options(github_standin):
    client = github_standin.pygithub()
    repo = client.get_repo(github_standin.repo_name)
    assert (repo.open_issues_count, client.get_user().login) == (0, "errortrail-bot")
    repo.create_label("errortrail", "d73a4a", "filed by errortrail")
    with pytest.raises(GithubException) as caught:
        repo.create_label("ErrorTrail", "d73a4a")
    assert caught.value.status == 422
    assert repo.get_label("errortrail").description == "filed by errortrail"
    assert sorted(label.name for label in repo.get_labels()) == ["bug", "errortrail"]
    with pytest.raises(UnknownObjectException):
        repo.get_label("missing").description
    repo.get_issue(1).add_to_labels("errortrail")
    assert github_standin.issue(1).labels == ["bug", "errortrail"]
    repo.create_issue(title="second").create_comment("bump")
    assert [i.number for i in repo.get_issues(state="all", sort="updated", direction="asc")] == [1, 2]
    assert [i.number for i in repo.get_issues(state="all", sort="comments")] == [2, 1]
    newest = client.search_issues(f"repo:{github_standin.repo_name} is:issue", sort="created", order="desc")
    assert [i.number for i in newest] == [2, 1]
    assert raw(github_standin, "GET", "/repos/errortrail/site/issues?state=shut")[0] == 422
    status, _, body = raw(github_standin, "GET", "/search/issues?q=is:issue+repo:other/repo")
    assert status == 422 and "cannot be searched" in body["errors"][0]["message"]


def test_graphql_answers_errors_for_what_it_does_not_implement(github_standin):
    def graphql(query, variables=None):
        return raw(github_standin, "POST", "/graphql", json.dumps({"query": query, "variables": variables}))[2]

    assert "does not implement GraphQL (anonymous)" in graphql("{ viewer { login } }")["errors"][0]["message"]
    closing = graphql("mutation IssueClose($input:CloseIssueInput!){x}", {"input": {"issueId": "I_nope"}})
    assert "Could not resolve to a node" in closing["errors"][0]["message"]
    node = graphql("query IssueByNumber($number: Int!){x}", {"number": 99})["data"]["repository"]["issue"]
    assert node is None


def test_without_a_token_configured_any_credentials_pass():
    with GitHubStandIn(token=None, seed=()) as standin:
        assert raw(standin, "GET", "/repos/errortrail/site/issues", token=False)[2] == []


def test_rate_limit_endpoint_and_headers(github_standin):
    client = github_standin.pygithub()
    client.get_repo(github_standin.repo_name).get_issue(1).title
    assert client.rate_limiting == (4999, 5000)
    assert client.get_rate_limit().resources.search.limit == 30


# the HTTP surface
def test_each_rate_limit_header_is_sent_once(github_standin):
    status, headers, body = raw(github_standin, "GET", "/repos/errortrail/site/issues?state=all")
    assert status == 200 and body[0]["number"] == 1
    for name in ("Limit", "Remaining", "Reset", "Used", "Resource"):
        assert len(headers.get_all(f"X-RateLimit-{name}")) == 1
    github_standin.primary_rate_limit()
    _, headers, _ = raw(github_standin, "GET", "/repos/errortrail/site")
    assert headers.get_all("X-RateLimit-Remaining") == ["0"]


def test_proxy_style_request_lines_get_urls_on_the_requested_host(github_standin):
    status, _, body = raw(github_standin, "GET", "http://api.github.localhost/repos/errortrail/site/issues/1")
    assert status == 200
    assert body["url"] == "http://api.github.localhost/repos/errortrail/site/issues/1"
    assert body["html_url"] == "http://github.localhost/errortrail/site/issues/1"


def test_enterprise_prefix_and_chunked_bodies(github_standin):
    chunked = (b'{"title": "chunked"', b', "labels": ["bug"]}')
    connection = http.client.HTTPConnection(github_standin.host, github_standin.port, timeout=15)
    connection.request("POST", "/api/v3/repos/errortrail/site/issues", body=iter(chunked), encode_chunked=True,
                       headers={"Authorization": f"token {github_standin.token}", "Transfer-Encoding": "chunked"})
    created = json.loads(connection.getresponse().read())
    connection.close()
    assert created["url"] == f"{github_standin.enterprise_url}/repos/errortrail/site/issues/2"
    assert created["labels"][0]["name"] == "bug"
    assert raw(github_standin, "POST", "/repos/errortrail/site/issues", body=b"{nope")[0] == 400
    assert raw(github_standin, "GET", "/nothing/here")[0] == 404


def test_control_endpoints(github_standin):
    assert control(github_standin, "POST", "/_control/faults", {"preset": "after_create", "status": 504})[0] == 201
    with pytest.raises(GithubException):
        github_standin.pygithub().get_repo(github_standin.repo_name).create_issue(title="B-002: x")
    status, state = control(github_standin, "GET", "/_control/state")
    assert (status, state["creates"], state["issues"][-1]["title"]) == (200, 1, "B-002: x")
    assert state["requests"] == [{"method": "POST", "path": "/repos/errortrail/site/issues", "query": "",
                                  "status": 504}]
    control(github_standin, "POST", "/_control/faults", {"status": 500, "times": None})
    assert control(github_standin, "DELETE", "/_control/faults")[0] == 204 and github_standin.faults.armed() == []
    assert control(github_standin, "POST", "/_control/issues", {"title": "seeded", "state": "closed"})[1]["number"] == 3
    assert control(github_standin, "POST", "/_control/reindex")[0] == 204
    for path, payload, code in [("/_control/faults", {"kind": "bad"}, 400), ("/_control/nothing", {}, 404)]:
        with pytest.raises(urllib.error.HTTPError) as caught:
            control(github_standin, "POST", path, payload)
        caught.value.close()
        assert caught.value.code == code


def test_standalone_process_prints_its_url_and_serves_until_terminated():
    process = subprocess.Popen([sys.executable, "-m", "tests.github_standin", "--port", "0", "--repo", "acme/shop",
                                "--token", "t0k"], stdout=subprocess.PIPE, text=True)
    try:
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
        url = lines.get(timeout=30).strip()
        standin = type("Remote", (), {"url": url})()
        control(standin, "POST", "/_control/faults", {"preset": "after_create"})
        client = pygithub_client(url, "t0k")
        with pytest.raises(GithubException):
            client.get_repo("acme/shop").create_issue(title="B-002: x")
        assert [i.number for i in client.get_repo("acme/shop").get_issues(state="all")] == [2, 1]
    finally:
        process.terminate()
        process.stdout.close()
    assert process.wait(timeout=30) == 0


def test_main_in_process_stops_on_its_event():
    from tests.github_standin.__main__ import main

    stop, urls = threading.Event(), queue.Queue()
    runner = threading.Thread(target=main, args=(["--no-seed", "--search-lag"], stop, lambda u, **_: urls.put(u)))
    runner.start()
    standin = type("Remote", (), {"url": urls.get(timeout=30)})()
    assert control(standin, "GET", "/_control/state")[1]["issues"] == []
    stop.set()
    runner.join(timeout=30)
    assert not runner.is_alive()


# webhooks
def test_webhook_delivery_is_signed_over_the_exact_body(github_standin):
    received = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.put((self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.handle_request, daemon=True).start()
    github_standin.pygithub().get_repo(github_standin.repo_name).get_issue(1).edit(state="open")
    payload = webhook.issues_event(github_standin, 1, "reopened")
    status = webhook.deliver(f"http://127.0.0.1:{server.server_address[1]}/hook", "s3cret", "issues", payload, "d-7")
    headers, body = received.get(timeout=30)
    server.server_close()
    assert status == 204 and headers["X-GitHub-Delivery"] == "d-7" and headers["X-GitHub-Event"] == "issues"
    assert headers["X-Hub-Signature-256"] == webhook.signature("s3cret", body)
    assert json.loads(body)["issue"]["state_reason"] == "reopened"
    assert webhook.deliver(github_standin.url + "/_control/nowhere", None, "ping", {}) == 404


# the real gh binary
def test_gh_api_creates_and_lists_issues(github_standin, gh_cli):
    created = gh_cli("api", "repos/errortrail/site/issues", "-f", "title=B-002: via gh", "-f", f"body={MARKER}",
                     "-f", "labels[]=errortrail")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["html_url"] == "http://github.localhost/errortrail/site/issues/2"
    piped = gh_cli("api", "--method", "POST", "repos/errortrail/site/issues", "--input", "-",
                   input=json.dumps({"title": "B-003: piped", "labels": ["bug"]}))
    assert piped.returncode == 0, piped.stderr
    listed = gh_cli("api", "repos/errortrail/site/issues?state=all&per_page=1", "--paginate", "--jq", ".[].number")
    assert listed.stdout.split() == ["3", "2", "1"]
    found = gh_cli("api", "-X", "GET", "search/issues", "-f", f'q="{MARKER}" repo:errortrail/site is:issue in:body',
                   "--jq", ".items[].number")
    assert found.stdout.split() == ["2"] and github_standin.creates == 2


def test_gh_api_does_not_retry_and_exits_1_on_http_errors(github_standin, gh_cli):
    github_standin.fail_after_create(502)
    failed = gh_cli("api", "repos/errortrail/site/issues", "-f", "title=B-002: x")
    assert failed.returncode == 1 and "HTTP 502" in failed.stderr and github_standin.creates == 1
    denied = gh_cli("api", "repos/errortrail/site", env_overrides={"GH_TOKEN": "wrong"})
    assert denied.returncode == 1 and "Bad credentials" in denied.stderr


def test_gh_issue_commands_through_the_graphql_subset(github_standin, gh_cli):
    repo = ["-R", "github.localhost/errortrail/site"]
    assert gh_cli("issue", "create", *repo, "--title", "B-002: x", "--body", MARKER, "--label", "errortrail"
                  ).stderr.strip() == "could not add label: 'errortrail' not found"
    assert gh_cli("label", "create", *repo, "errortrail", "--color", "d73a4a").returncode == 0
    assert "errortrail" in gh_cli("label", "list", *repo).stdout
    created = gh_cli("issue", "create", *repo, "--title", "B-002: x", "--body", MARKER, "--label", "errortrail")
    assert created.stdout.strip() == "http://github.localhost/errortrail/site/issues/2", created.stderr
    listed = gh_cli("issue", "list", *repo, "--state", "all", "--json", "number,state,labels")
    assert [(i["number"], i["state"]) for i in json.loads(listed.stdout)] == [(2, "OPEN"), (1, "CLOSED")]
    searched = gh_cli("issue", "list", *repo, "--state", "all", "--label", "errortrail", "--search",
                      f'"{MARKER}" in:body', "--json", "number")
    assert json.loads(searched.stdout) == [{"number": 2}], searched.stderr
    assert gh_cli("issue", "close", *repo, "2", "--reason", "not planned").returncode == 0
    assert github_standin.issue(2).state_reason == "not_planned"
    assert gh_cli("issue", "reopen", *repo, "2").returncode == 0
    assert gh_cli("issue", "comment", *repo, "2", "--body", "again").returncode == 0
    assert (github_standin.issue(2).state, [c.body for c in github_standin.comments(2)]) == ("open", ["again"])
    unsupported = gh_cli("issue", "view", *repo, "2", "--json", "comments")
    assert unsupported.returncode == 1 and "stand-in does not implement GraphQL" in unsupported.stderr
