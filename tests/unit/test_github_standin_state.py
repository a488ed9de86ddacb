"""The stand-in's pure parts: repository rules, faults, rate limits, pagination, webhook signatures."""

import hashlib
import hmac
import json

import pytest

from tests.github_standin import faults, render, webhook
from tests.github_standin.ratelimit import RateLimits
from tests.github_standin.state import Invalid, Repository, iso, parse_iso


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def repo():
    repository = Repository("errortrail/site", "bot", Clock())
    repository.seed()
    return repository


def test_seed_is_the_story_repository_issue_one_closed_and_not_counted(repo):
    (first,) = repo.issues.values()
    assert (first.number, first.title, first.state, first.state_reason) == (
        1, "B-001: CSRF trusted origins", "closed", "completed")
    assert repo.creates == 0


def test_issue_numbers_increase_and_labels_are_created_once_case_insensitively(repo):
    a = repo.create_issue("A", labels=["errortrail", "Bug"])
    b = repo.create_issue("B", labels=[{"name": "ERRORTRAIL"}])
    assert (a.number, b.number, repo.creates) == (2, 3, 2)
    assert a.labels == ["errortrail", "bug"] and b.labels == ["errortrail"]
    assert sorted(label.name for label in repo.labels.values()) == ["bug", "errortrail"]


@pytest.mark.parametrize("title", [None, "", "   ", 7])
def test_an_issue_needs_a_title(repo, title):
    with pytest.raises(Invalid) as caught:
        repo.create_issue(title)
    assert (caught.value.field, caught.value.code) == ("title", "missing_field")


def test_closing_and_reopening_follow_githubs_state_reason_rules(repo):
    issue = repo.create_issue("A")
    repo.edit_issue(issue.number, {"state": "closed"})
    assert (issue.state, issue.state_reason) == ("closed", "completed") and issue.closed_at is not None
    repo.edit_issue(issue.number, {"state": "closed", "state_reason": "not_planned"})
    assert issue.state_reason == "not_planned"
    repo.edit_issue(issue.number, {"state": "open"})
    assert (issue.state, issue.state_reason, issue.closed_at) == ("open", "reopened", None)


@pytest.mark.parametrize("changes", [{"state": "shut"}, {"state_reason": "fixed"}, {"title": ""}, {"body": 3},
                                     {"labels": ["ok", ""]}])
def test_invalid_edits_are_refused_and_change_nothing(repo, changes):
    issue = repo.create_issue("A", "body")
    with pytest.raises(Invalid):
        repo.edit_issue(issue.number, {"body": "changed", **changes})
    assert (issue.title, issue.body, issue.state) == ("A", "body", "open")


def test_edit_replaces_title_body_and_labels(repo):
    issue = repo.create_issue("A", "body", ["bug"])
    repo.edit_issue(issue.number, {"title": "B", "body": None, "labels": ["errortrail"]})
    assert (issue.title, issue.body, issue.labels) == ("B", None, ["errortrail"])


def test_comments_count_on_their_issue_and_need_a_body(repo):
    issue = repo.create_issue("A")
    repo.add_comment(issue.number, "again")
    assert issue.comments == 1 and [c.body for c in repo.comments_of(issue.number)] == ["again"]
    with pytest.raises(Invalid):
        repo.add_comment(issue.number, " ")


def test_listing_filters_by_state_all_labels_and_since_and_sorts(repo):
    clock = repo.clock
    old = repo.create_issue("old", labels=["bug", "errortrail"])
    clock.now += 3600
    new = repo.create_issue("new", labels=["errortrail"])
    assert [i.number for i in repo.list_issues()] == [new.number, old.number]
    assert [i.number for i in repo.list_issues("all", direction="asc")] == [1, old.number, new.number]
    assert [i.number for i in repo.list_issues("all", labels=["ERRORTRAIL", "bug"])] == [old.number]
    assert [i.number for i in repo.list_issues("all", since=clock.now)] == [new.number]
    assert [i.number for i in repo.list_issues("closed")] == [1]


def test_bodies_and_label_names_must_be_strings(repo):
    with pytest.raises(Invalid):
        repo.create_issue("A", body=["not", "text"])
    with pytest.raises(Invalid):
        repo.create_label(" ")


def test_labels_are_unique(repo):
    repo.create_label("errortrail", "ff0000", "filed by errortrail")
    with pytest.raises(Invalid) as caught:
        repo.create_label("ErrorTrail")
    assert caught.value.code == "already_exists"


def test_repository_name_must_be_owner_slash_name():
    with pytest.raises(ValueError):
        Repository("just-a-name", "bot")


def test_timestamps_round_trip_in_githubs_format():
    assert iso(parse_iso("2026-12-04T10:00:00Z")) == "2026-12-04T10:00:00Z"
    assert parse_iso("2026-12-04T12:00:00+02:00") == parse_iso("2026-12-04T10:00:00")
    with pytest.raises(Invalid):
        parse_iso("yesterday")


def test_a_fault_hits_matching_requests_the_given_number_of_times():
    book = faults.FaultBook()
    book.add(faults.Fault(method="post", path="/repos/*/*/issues", times=2))
    assert book.take("GET", "/repos/o/r/issues") is None
    assert book.take("POST", "/repos/o/r/issues/1/comments") is None
    assert book.take("POST", "/repos/o/r/issues").hits == 1
    assert book.take("POST", "/repos/o/r/issues").hits == 2
    assert book.take("POST", "/repos/o/r/issues") is None


def test_an_unlimited_fault_stays_until_cleared():
    book = faults.FaultBook()
    book.add(faults.Fault(times=None))
    assert all(book.take("GET", "/x") for _ in range(5))
    book.clear()
    assert book.take("GET", "/x") is None and book.armed() == []


@pytest.mark.parametrize("bad", [{"kind": "explode"}, {"times": 0}, {"preset": "nonsense"}])
def test_bad_fault_specs_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        faults.fault_from_dict(bad)


def test_fault_presets_match_githubs_messages_and_headers():
    secondary = faults.fault_from_dict({"preset": "secondary_rate_limit", "retry_after": 0})
    assert secondary.status == 403 and secondary.headers == {"Retry-After": "0"}
    assert secondary.message.startswith("You have exceeded a secondary rate limit")
    primary = faults.fault_from_dict({"preset": "primary_rate_limit", "reset_in": 60, "now": 1000})
    assert primary.headers == {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1060"}
    assert primary.message.startswith("API rate limit exceeded")
    assert faults.fault_from_dict({"preset": "bad_credentials"}).status == 401
    after = faults.fault_from_dict({"preset": "after_create", "status": 504, "hits": 9})
    assert (after.method, after.path, after.after, after.status, after.hits) == ("POST", faults.CREATE_PATH,
                                                                                   True, 504, 0)


def test_rate_limits_count_per_resource_refuse_at_the_limit_and_reset_with_the_window():
    clock = Clock(1000)
    limits = RateLimits({"search": 2}, clock)
    assert limits.charge("search") == (True, {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1",
                                              "X-RateLimit-Reset": "1060", "X-RateLimit-Used": "1",
                                              "X-RateLimit-Resource": "search"})
    assert limits.charge("search")[0] and not limits.charge("search")[0]
    assert limits.peek("core")["X-RateLimit-Remaining"] == "5000"
    clock.now += 60
    assert limits.charge("search")[1]["X-RateLimit-Used"] == "1"
    overview = limits.overview()
    assert overview["resources"]["search"]["remaining"] == 1 and overview["rate"] == overview["resources"]["core"]


def test_pagination_links_are_absolute_on_the_callers_origin_and_keep_the_query():
    urls = render.Urls("http://127.0.0.1:8123", "/api/v3")
    items, link = render.paginate(list(range(75)), "/repos/o/r/issues", "state=all&per_page=30&page=2", urls)
    assert items == list(range(30, 60))
    rels = {part.split('; rel="')[1].rstrip('"'): part.split(">")[0].lstrip("<") for part in link.split(", ")}
    assert rels == {
        "next": "http://127.0.0.1:8123/api/v3/repos/o/r/issues?state=all&per_page=30&page=3",
        "last": "http://127.0.0.1:8123/api/v3/repos/o/r/issues?state=all&per_page=30&page=3",
        "first": "http://127.0.0.1:8123/api/v3/repos/o/r/issues?state=all&per_page=30&page=1",
        "prev": "http://127.0.0.1:8123/api/v3/repos/o/r/issues?state=all&per_page=30&page=1",
    }


def test_a_single_page_has_no_link_and_per_page_is_clamped():
    assert render.paginate([1, 2], "/x", "", render.Urls("http://h"))[1] is None
    assert render.page_numbers("per_page=500&page=0") == (1, 100)
    assert render.page_numbers("per_page=lots") == (1, 30)


def test_html_urls_drop_the_api_host_prefix():
    assert render.Urls("http://api.github.localhost").html == "http://github.localhost"
    assert render.Urls("http://127.0.0.1:9", "/api/v3").html == "http://127.0.0.1:9"


def test_webhook_signature_is_githubs_hmac_sha256_of_the_raw_body():
    body, headers = webhook.signed_delivery("s3cret", "issues", {"action": "closed"}, delivery="d-1")
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected == webhook.signature(b"s3cret", body)
    assert (headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]) == ("issues", "d-1")
    assert json.loads(body) == {"action": "closed"}


def test_unsigned_delivery_and_django_header_names():
    body, headers = webhook.signed_delivery(None, "ping", {})
    assert "X-Hub-Signature-256" not in headers and len(headers["X-GitHub-Delivery"]) == 36
    django = webhook.django_headers({"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=x"})
    assert django == {"CONTENT_TYPE": "application/json", "HTTP_X_HUB_SIGNATURE_256": "sha256=x"}
