"""The REST endpoints: a request (already authenticated) in, a status and JSON body out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from . import render, search
from .render import Urls
from .state import Invalid, Repository, parse_iso

REPO = r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


@dataclass
class Request:
    method: str
    path: str
    query: str
    body: Any
    urls: Urls


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def not_found() -> Response:
    return Response(404, render.error_json("Not Found"))


def invalid(resource: str, field_name: str, code: str = "invalid", message: str | None = None) -> Response:
    error = {"resource": resource, "field": field_name, "code": code}
    if message:
        error["message"] = message
    return Response(422, render.error_json("Validation Failed", errors=[error]))


class Api:
    """Routes requests to one repository's state; the caller holds the lock around `handle`."""

    def __init__(self, repo: Repository, search_lag: bool = False):
        self.repo = repo
        self.search_lag = search_lag
        self.searchable: set[int] = set()
        self.routes: list[tuple[str, re.Pattern, Callable[..., Response]]] = [
            ("GET", re.compile(REPO + "$"), self.get_repo),
            ("GET", re.compile(REPO + "/issues$"), self.list_issues),
            ("POST", re.compile(REPO + "/issues$"), self.create_issue),
            ("GET", re.compile(REPO + r"/issues/(?P<number>\d+)$"), self.get_issue),
            ("PATCH", re.compile(REPO + r"/issues/(?P<number>\d+)$"), self.edit_issue),
            ("GET", re.compile(REPO + r"/issues/(?P<number>\d+)/comments$"), self.list_comments),
            ("POST", re.compile(REPO + r"/issues/(?P<number>\d+)/comments$"), self.create_comment),
            ("POST", re.compile(REPO + r"/issues/(?P<number>\d+)/labels$"), self.add_labels),
            ("GET", re.compile(REPO + "/labels$"), self.list_labels),
            ("POST", re.compile(REPO + "/labels$"), self.create_label),
            ("GET", re.compile(REPO + "/labels/(?P<label>[^/]+)$"), self.get_label),
            ("GET", re.compile(r"^/search/issues$"), self.search_issues),
            ("GET", re.compile(r"^/user$"), self.get_user),
        ]

    def reindex(self) -> None:
        """Make every existing issue visible to search (search lags behind writes when `search_lag`)."""
        self.searchable = set(self.repo.issues)

    def handle(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            found = pattern.match(request.path)
            if found and method == request.method:
                params = {k: unquote(v) for k, v in found.groupdict().items()}
                if "owner" in params and (params.pop("owner").lower(), params.pop("name").lower()) != (
                        self.repo.owner.lower(), self.repo.name.lower()):
                    return not_found()
                if "number" in params and int(params["number"]) not in self.repo.issues:
                    return not_found()
                try:
                    return handler(request, **params)
                except Invalid as exc:
                    return invalid(handler.__name__.split("_")[-1].rstrip("s").capitalize(), exc.field, exc.code,
                                   str(exc))
        return not_found()

    def _page(self, request: Request, items: list, as_json: Callable) -> Response:
        chunk, link = render.paginate(items, request.path, request.query, request.urls)
        return Response(200, [as_json(item, self.repo, request.urls) for item in chunk], {"Link": link} if link else {})

    def get_repo(self, request: Request) -> Response:
        return Response(200, render.repo_json(self.repo, request.urls))

    def get_user(self, request: Request) -> Response:
        return Response(200, render.user_json(self.repo.login, request.urls))

    def list_issues(self, request: Request) -> Response:
        params = {k: v[-1] for k, v in parse_qs(request.query).items()}
        state = params.get("state", "open")
        sort = params.get("sort", "created")
        direction = params.get("direction", "desc")
        if state not in ("open", "closed", "all") or sort not in ("created", "updated", "comments") or \
                direction not in ("asc", "desc"):
            raise Invalid("state/sort/direction")
        labels = [name.strip() for name in params.get("labels", "").split(",") if name.strip()]
        since = parse_iso(params["since"]) if params.get("since") else None
        issues = self.repo.list_issues(state, labels, since, sort, direction)
        return self._page(request, issues, render.issue_json)

    def create_issue(self, request: Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        issue = self.repo.create_issue(body.get("title"), body.get("body"), body.get("labels") or ())
        if not self.search_lag:
            self.searchable.add(issue.number)
        return Response(201, render.issue_json(issue, self.repo, request.urls))

    def get_issue(self, request: Request, number: str) -> Response:
        return Response(200, render.issue_json(self.repo.issues[int(number)], self.repo, request.urls))

    def edit_issue(self, request: Request, number: str) -> Response:
        changes = request.body if isinstance(request.body, dict) else {}
        issue = self.repo.edit_issue(int(number), changes)
        return Response(200, render.issue_json(issue, self.repo, request.urls))

    def list_comments(self, request: Request, number: str) -> Response:
        return self._page(request, self.repo.comments_of(int(number)), render.comment_json)

    def create_comment(self, request: Request, number: str) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        comment = self.repo.add_comment(int(number), body.get("body"))
        return Response(201, render.comment_json(comment, self.repo, request.urls))

    def add_labels(self, request: Request, number: str) -> Response:
        body = request.body
        names = body.get("labels", []) if isinstance(body, dict) else body
        issue = self.repo.issues[int(number)]
        self.repo.edit_issue(issue.number, {"labels": [*issue.labels, *(names or [])]})
        return Response(200, [render.label_json(self.repo.label(n), self.repo, request.urls) for n in issue.labels])

    def list_labels(self, request: Request) -> Response:
        return self._page(request, list(self.repo.labels.values()), render.label_json)

    def create_label(self, request: Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        label = self.repo.create_label(body.get("name"), body.get("color"), body.get("description"))
        return Response(201, render.label_json(label, self.repo, request.urls))

    def get_label(self, request: Request, label: str) -> Response:
        found = self.repo.find_label(label)
        return Response(200, render.label_json(found, self.repo, request.urls)) if found else not_found()

    def search_issues(self, request: Request) -> Response:
        params = {k: v[-1] for k, v in parse_qs(request.query).items()}
        try:
            query = search.parse(params.get("q", ""))
        except search.QueryError as exc:
            return invalid("Search", "q", message=str(exc))
        if any(name != self.repo.full_name.lower() for name in query.repos):
            return invalid("Search", "q", message="The listed users and repositories cannot be searched either "
                           "because the resources do not exist or you do not have permission to view them.")
        hits = [issue for number, issue in sorted(self.repo.issues.items(), reverse=True)
                if number in self.searchable
                and search.matches(query, issue, self.repo.comments_of(number), self.repo.full_name)]
        sort, order = params.get("sort"), params.get("order", "desc")
        if sort in ("created", "updated", "comments"):
            hits.sort(key=lambda i: getattr(i, "comments" if sort == "comments" else f"{sort}_at"),
                      reverse=order == "desc")
        chunk, link = render.paginate(hits, request.path, request.query, request.urls)
        items = [{**render.issue_json(issue, self.repo, request.urls), "score": 1.0} for issue in chunk]
        return Response(200, {"total_count": len(hits), "incomplete_results": False, "items": items},
                        {"Link": link} if link else {})
