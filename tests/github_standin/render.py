"""GitHub's JSON shapes and `Link` pagination, with URLs on the client's own scheme, host and port."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from .state import Comment, Issue, Label, Repository, iso

DOCS = "https://docs.github.com/rest"
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Urls:
    """Where the client reached us: `http://host:port` plus `/api/v3` when it used the Enterprise prefix."""

    origin: str
    prefix: str = ""

    @property
    def api(self) -> str:
        return self.origin + self.prefix

    @property
    def html(self) -> str:
        scheme, _, host = self.origin.partition("://")
        return f"{scheme}://{host.removeprefix('api.')}"


def user_json(login: str, urls: Urls) -> dict:
    return {"login": login, "id": 1, "node_id": "U_standin", "type": "User", "site_admin": False,
            "url": f"{urls.api}/users/{login}", "html_url": f"{urls.html}/{login}"}


def label_json(label: Label, repo: Repository, urls: Urls) -> dict:
    return {"id": label.id, "node_id": f"LA_{label.id}", "name": label.name, "color": label.color,
            "description": label.description, "default": label.name == "bug",
            "url": f"{urls.api}/repos/{repo.full_name}/labels/{label.name}"}


def repo_json(repo: Repository, urls: Urls) -> dict:
    api = f"{urls.api}/repos/{repo.full_name}"
    return {
        "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
        "owner": user_json(repo.owner, urls), "private": False, "fork": False, "archived": False,
        "has_issues": True, "open_issues_count": sum(i.state == "open" for i in repo.issues.values()),
        "default_branch": "main", "visibility": "public", "url": api, "html_url": f"{urls.html}/{repo.full_name}",
        "issues_url": api + "/issues{/number}", "labels_url": api + "/labels{/name}",
        "permissions": {"admin": True, "push": True, "pull": True},
    }


def issue_json(issue: Issue, repo: Repository, urls: Urls) -> dict:
    api = f"{urls.api}/repos/{repo.full_name}"
    url = f"{api}/issues/{issue.number}"
    return {
        "id": issue.id, "node_id": f"I_{issue.id}", "number": issue.number, "title": issue.title,
        "body": issue.body, "state": issue.state, "state_reason": issue.state_reason, "locked": False,
        "user": user_json(issue.user, urls), "assignee": None, "assignees": [], "milestone": None,
        "labels": [label_json(repo.label(name), repo, urls) for name in issue.labels],
        "comments": issue.comments, "created_at": iso(issue.created_at), "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at) if issue.closed_at is not None else None,
        "author_association": "OWNER", "url": url, "repository_url": api,
        "html_url": f"{urls.html}/{repo.full_name}/issues/{issue.number}",
        "comments_url": url + "/comments", "events_url": url + "/events", "labels_url": url + "/labels{/name}",
    }


def comment_json(comment: Comment, repo: Repository, urls: Urls) -> dict:
    api = f"{urls.api}/repos/{repo.full_name}"
    return {
        "id": comment.id, "node_id": f"IC_{comment.id}", "body": comment.body,
        "user": user_json(comment.user, urls), "author_association": "OWNER",
        "created_at": iso(comment.created_at), "updated_at": iso(comment.updated_at),
        "url": f"{api}/issues/comments/{comment.id}", "issue_url": f"{api}/issues/{comment.issue_number}",
        "html_url": f"{urls.html}/{repo.full_name}/issues/{comment.issue_number}#issuecomment-{comment.id}",
    }


def error_json(message: str, **extra) -> dict:
    return {"message": message, "documentation_url": DOCS, **extra}


def page_numbers(query: str) -> tuple[int, int]:
    """`page` and `per_page` from a query string, clamped like GitHub (per_page 1..100, default 30)."""
    params = dict(parse_qsl(query))
    try:
        page = max(int(params.get("page", 1)), 1)
        per_page = min(max(int(params.get("per_page", 30)), 1), MAX_PER_PAGE)
    except ValueError:
        page, per_page = 1, 30
    return page, per_page


def paginate(items: list, path: str, query: str, urls: Urls) -> tuple[list, str | None]:
    """One page of `items` and the `Link` header pointing at the neighbouring pages (absolute URLs)."""
    page, per_page = page_numbers(query)
    last = max((len(items) + per_page - 1) // per_page, 1)
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "page"]

    def link(number: int, rel: str) -> str:
        return f'<{urls.api}{path}?{urlencode([*params, ("page", str(number))])}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(min(page - 1, last), "prev")]
    chunk = items[(page - 1) * per_page: page * per_page]
    return chunk, ", ".join(links) or None
