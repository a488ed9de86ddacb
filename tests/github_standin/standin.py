"""The stand-in itself: the request pipeline (faults, auth, rate limits, routes) and the test-facing API."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from . import clients, control, faults, graphql, render
from .faults import Fault, FaultBook
from .ratelimit import RateLimits
from .render import Urls
from .routes import Api, Request, Response
from .server import serve_in_thread
from .state import DEFAULT_SEED, Comment, Issue, Repository

ENTERPRISE_PREFIX = "/api/v3"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int | None  # None: the connection was dropped


def _resource(path: str) -> str | None:
    if path == "/rate_limit":
        return None
    return "search" if path.startswith("/search/") else "graphql" if path == "/graphql" else "core"


class GitHubStandIn:
    """A stateful GitHub REST API for one repository, served over real HTTP on 127.0.0.1."""

    def __init__(self, repo: str = "errortrail/site", token: str | None = "standin-token", *,
                 login: str = "errortrail-bot", seed=DEFAULT_SEED, host: str = "127.0.0.1", port: int = 0,
                 search_lag: bool = False, rate_limits: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.time):
        self.token = token
        self.host, self.port = host, port
        self.clock = clock
        self.lock = threading.RLock()
        self.repository = Repository(repo, login, clock)
        self.repository.seed(seed)
        self.api = Api(self.repository, search_lag)
        self.api.reindex()
        self.rate_limits = RateLimits(rate_limits, clock)
        self.faults = FaultBook()
        self._log: list[LoggedRequest] = []
        self._server = self._thread = None

    # lifecycle
    def start(self) -> GitHubStandIn:
        self._server, self._thread = serve_in_thread(self, self.host, self.port)
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root for clients (PyGithub's `base_url`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def enterprise_url(self) -> str:
        """The same API under GitHub Enterprise's `/api/v3` prefix."""
        return self.url + ENTERPRISE_PREFIX

    @property
    def repo_name(self) -> str:
        return self.repository.full_name

    # the request pipeline
    def process(self, method: str, scheme: str, host: str, target: str, headers, body: bytes) -> Response | None:
        """Answer one HTTP request; None means drop the connection."""
        parts = urlsplit(target)
        path, query, prefix = parts.path, parts.query, ""
        if path.startswith("/_control/"):
            return control.handle(self, method, path, body)
        for known in (ENTERPRISE_PREFIX, "/api"):
            if path.startswith(known + "/"):
                path, prefix = path[len(known):], known
                break
        urls = Urls(f"{scheme}://{host}", prefix)
        fault = self.faults.take(method, path)
        if fault is not None and not fault.after:
            return self._finish(method, path, query, self._fault_response(fault, path))
        response = self._authorised_response(method, path, query, headers, body, urls)
        if fault is not None:
            response = self._fault_response(fault, path)
        return self._finish(method, path, query, response)

    def _authorised_response(self, method, path, query, headers, body, urls) -> Response:
        resource = _resource(path)
        limits = self.rate_limits.peek(resource or "core")
        if not self._token_ok(headers.get("Authorization")):
            message = "Bad credentials" if headers.get("Authorization") else "Requires authentication"
            return Response(401, render.error_json(message), limits)
        if resource is not None:
            allowed, limits = self.rate_limits.charge(resource)
            if not allowed:
                return Response(403, render.error_json(faults.PRIMARY_MESSAGE), limits)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return Response(400, render.error_json("Problems parsing JSON"), limits)
        with self.lock:
            if path == "/rate_limit":
                response = Response(200, self.rate_limits.overview())
            elif path == "/graphql" and method == "POST":
                response = graphql.handle(self.api, payload, urls)
            else:
                response = self.api.handle(Request(method, path, query, payload, urls))
        response.headers = {**limits, **response.headers}
        return response

    def _token_ok(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, value = (authorization or "").partition(" ")
        return scheme.lower() in ("token", "bearer") and value.strip() == self.token

    def _fault_response(self, fault: Fault, path: str) -> Response | None:
        if fault.kind == "drop":
            return None
        limits = self.rate_limits.peek(_resource(path) or "core")
        return Response(fault.status, render.error_json(fault.message), {**limits, **fault.headers})

    def _finish(self, method, path, query, response: Response | None) -> Response | None:
        if response is not None:
            response.headers.setdefault("X-GitHub-Request-Id", uuid.uuid4().hex[:16].upper())
        with self.lock:
            self._log.append(LoggedRequest(method, path, query, response.status if response else None))
        return response

    # state for assertions
    def issues(self) -> list[Issue]:
        """A copy of every issue, by number."""
        with self.lock:
            return [issue for _, issue in sorted(self.repository.snapshot().issues.items())]

    def issue(self, number: int) -> Issue:
        with self.lock:
            return self.repository.snapshot().issues[number]

    def comments(self, number: int | None = None) -> list[Comment]:
        with self.lock:
            copy = self.repository.snapshot()
        return copy.comments if number is None else copy.comments_of(number)

    def labels(self) -> list[str]:
        with self.lock:
            return [label.name for label in self.repository.labels.values()]

    @property
    def creates(self) -> int:
        """How many issues clients created (seeded and `add_issue` ones excluded)."""
        with self.lock:
            return self.repository.creates

    @property
    def requests(self) -> list[LoggedRequest]:
        with self.lock:
            return list(self._log)

    def requests_to(self, method: str, path_glob: str) -> list[LoggedRequest]:
        """Logged requests matching a method and a path glob (as faults match them)."""
        probe = Fault(method=method, path=path_glob)
        return [r for r in self.requests if probe.matches(r.method, r.path)]

    # arranging
    def add_issue(self, title: str, body: str | None = None, labels=(), state: str = "open",
                  state_reason: str | None = None) -> Issue:
        """Put an issue in place as if someone else had filed it (not counted in `creates`)."""
        with self.lock:
            issue = self.repository.create_issue(title, body, labels, count=False)
            if state == "closed":
                self.repository.edit_issue(issue.number, {"state": state, "state_reason": state_reason})
            self.api.searchable.add(issue.number)
            return self.repository.snapshot().issues[issue.number]

    def reindex(self) -> None:
        """Let search see every issue (only needed with `search_lag=True`)."""
        with self.lock:
            self.api.reindex()

    # faults
    def inject(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def fail(self, status: int = 502, *, times: int | None = 1, method: str = "*", path: str = "*",
             after: bool = False, message: str = "Server Error") -> Fault:
        """Answer the next `times` matching requests with `status` (after performing them if `after`)."""
        return self.inject(Fault(status=status, times=times, method=method, path=path, after=after, message=message))

    def fail_after_create(self, status: int = 502, *, times: int | None = 1) -> Fault:
        """Create the issue, then answer `status` (the trap for clients that retry POSTs)."""
        return self.fail(status, times=times, method="POST", path=faults.CREATE_PATH, after=True)

    def secondary_rate_limit(self, retry_after: int = 1, *, times: int | None = 1, method: str = "*",
                             path: str = "*") -> Fault:
        return self.inject(faults.secondary_rate_limit(retry_after, times=times, method=method, path=path))

    def primary_rate_limit(self, reset_in: int = 60, *, times: int | None = 1, method: str = "*",
                           path: str = "*") -> Fault:
        return self.inject(faults.primary_rate_limit(reset_in, self.clock(), times=times, method=method, path=path))

    def bad_credentials(self, *, times: int | None = 1, method: str = "*", path: str = "*") -> Fault:
        return self.inject(faults.bad_credentials(times=times, method=method, path=path))

    def drop_connection(self, *, times: int | None = 1, method: str = "*", path: str = "*",
                        after: bool = False) -> Fault:
        """Close the connection without answering (after performing the request if `after`)."""
        return self.inject(Fault(kind="drop", times=times, method=method, path=path, after=after))

    def clear_faults(self) -> None:
        self.faults.clear()

    # clients configured as NOTES.md says
    def pygithub(self, *, enterprise: bool = False, token: str | None = None, retry="notes", **kwargs):
        """A PyGithub client for this stand-in (see `clients.pygithub_client`)."""
        base_url = self.enterprise_url if enterprise else self.url
        return clients.pygithub_client(base_url, token or self.token or "any", retry, **kwargs)

    def gh_env(self, config_dir: str, token: str | None = None) -> dict[str, str]:
        """Environment for a `gh` subprocess that reaches this stand-in as github.localhost."""
        return clients.gh_env(self.url, token or self.token or "any", config_dir)
