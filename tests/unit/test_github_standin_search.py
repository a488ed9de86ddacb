"""The stand-in's issue search syntax: what it accepts, refuses and matches (pure, no HTTP)."""

import pytest

from tests.github_standin import search
from tests.github_standin.state import Comment, Issue

REPO = "errortrail/site"


def issue(title="B-002: CSRF failure", body="<!-- errortrail:fp=abc123 -->\nfingerprint abc123", labels=("bug",),
          state="open"):
    return Issue(number=2, id=7, title=title, body=body, user="bot", created_at=0, updated_at=0, state=state,
                 labels=list(labels))


def hits(q, subject=None, comments=(), repo=REPO):
    return search.matches(search.parse(q), subject or issue(), list(comments), repo)


def test_marker_query_as_bugbot_sends_it_finds_the_issue():
    assert hits(f'"<!-- errortrail:fp=abc123 -->" repo:{REPO} is:issue in:body')


def test_marker_of_another_pattern_does_not_match():
    assert not hits(f'"<!-- errortrail:fp=zzz -->" repo:{REPO} is:issue in:body')


def test_in_title_restricts_the_fields_searched():
    assert not hits(f'"fp=abc123" repo:{REPO} is:issue in:title')
    assert hits(f'"B-002" repo:{REPO} is:issue in:title')


def test_in_comments_searches_comment_bodies_only():
    comment = Comment(id=1, issue_number=2, body="seen again", user="bot", created_at=0, updated_at=0)
    assert hits('"seen again" is:issue in:comments', comments=[comment])
    assert not hits('"seen again" is:issue')


def test_default_fields_are_title_and_body_and_every_term_must_match():
    assert hits("csrf abc123 is:issue")
    assert not hits("csrf missing-word is:issue")


def test_labels_must_all_be_present_and_negated_labels_absent():
    assert hits('is:issue label:bug label:"bug"')
    assert not hits("is:issue label:bug label:errortrail")
    assert not hits("is:issue -label:bug")
    assert hits("is:issue -label:wontfix")


def test_state_and_repository_qualifiers_filter():
    assert hits("is:issue is:open")
    assert not hits("is:issue state:closed")
    assert not hits("is:issue is:closed repo:other/repo")


def test_pull_request_searches_find_no_issues():
    assert not hits("is:pr csrf")
    assert not hits("type:pr csrf")
    assert hits("type:issue csrf")


def test_query_without_is_issue_or_is_pr_is_refused_like_github():
    with pytest.raises(search.QueryError, match="is:issue"):
        search.parse(f'"marker" repo:{REPO} in:body')


@pytest.mark.parametrize("q", ["is:issue author:someone", "is:issue a OR b", "is:issue -csrf", "is:issue -in:body"])
def test_unsupported_syntax_is_refused_rather_than_silently_ignored(q):
    with pytest.raises(search.QueryError, match="stand-in does not support"):
        search.parse(q)
