"""Webhook deliveries signed like GitHub's (`X-Hub-Signature-256`), built from the stand-in's state."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from typing import TYPE_CHECKING

from . import render

if TYPE_CHECKING:  # pragma: no cover
    from .standin import GitHubStandIn


def signature(secret: str | bytes, body: bytes) -> str:
    """`sha256=` + the hex HMAC-SHA256 of the raw body, as GitHub sends it."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_delivery(secret: str | bytes | None, event: str, payload: dict,
                    delivery: str | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery; `secret=None` leaves it unsigned (as with no secret set)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/standin",
               "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
               "X-GitHub-Hook-ID": "1"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature(secret, body)
    return body, headers


def django_headers(headers: dict[str, str]) -> dict[str, str]:
    """The same headers as keyword arguments for Django's test client (`HTTP_X_GITHUB_EVENT=...`)."""
    return {("CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_")): value
            for name, value in headers.items()}


def issues_event(standin: GitHubStandIn, number: int, action: str) -> dict:
    """An `issues` event payload (`closed`, `reopened`, `opened`, ...) for issue `number` as it is now."""
    urls = render.Urls(standin.url)
    with standin.lock:
        repo = standin.repository
        issue = repo.issues[number]
        return {"action": action, "issue": render.issue_json(issue, repo, urls),
                "repository": render.repo_json(repo, urls), "sender": render.user_json(repo.login, urls)}


def deliver(url: str, secret: str | bytes | None, event: str, payload: dict, delivery: str | None = None,
            timeout_s: float = 10) -> int:
    """POST one signed delivery to `url` over HTTP; returns the response status."""
    body, headers = signed_delivery(secret, event, payload, delivery)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP_PROXY
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
