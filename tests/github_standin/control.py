"""The `/_control/` endpoints: faults, state and arranging for a stand-in running as its own process."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from . import render
from .faults import fault_from_dict
from .routes import Response

if TYPE_CHECKING:  # pragma: no cover
    from .standin import GitHubStandIn


def state(standin: GitHubStandIn) -> dict:
    """Everything a test may assert on, as JSON."""
    return {
        "repo": standin.repo_name,
        "creates": standin.creates,
        "issues": [asdict(issue) for issue in standin.issues()],
        "comments": [asdict(comment) for comment in standin.comments()],
        "labels": standin.labels(),
        "requests": [asdict(request) for request in standin.requests],
        "faults": [fault.as_dict() for fault in standin.faults.armed()],
    }


def handle(standin: GitHubStandIn, method: str, path: str, body: bytes) -> Response:
    """Serve one control request (unauthenticated, never logged, never faulted)."""
    try:
        payload = json.loads(body) if body else {}
        if method == "GET" and path == "/_control/state":
            return Response(200, state(standin))
        if method == "POST" and path == "/_control/faults":
            return Response(201, standin.inject(fault_from_dict(payload)).as_dict())
        if method == "DELETE" and path == "/_control/faults":
            standin.clear_faults()
            return Response(204)
        if method == "POST" and path == "/_control/issues":
            return Response(201, asdict(standin.add_issue(**payload)))
        if method == "POST" and path == "/_control/reindex":
            standin.reindex()
            return Response(204)
    except (ValueError, TypeError) as exc:
        return Response(400, render.error_json(f"bad control request: {exc}"))
    return Response(404, render.error_json("Not Found"))
