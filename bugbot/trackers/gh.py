"""The gh backend: every `gh api` call bugbot makes (REST), the token only ever in gh's environment."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urlencode, urlsplit

from bugbot.bugids import parse_bug_number
from bugbot.trackers import FATAL, IssueRef, TrackerError
from bugbot.trackers.errors import classify

LISTING_LIMIT = 500
PER_PAGE = 100
_config_dir: str | None = None


def gh_environment(cfg: Mapping[str, Any], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """gh's environment for the configured API URL: host, token variable, and a proxy for a plain-HTTP stand-in."""
    global _config_dir
    if _config_dir is None:
        _config_dir = tempfile.mkdtemp(prefix="errortrail-gh-")
    base = os.environ if base is None else base
    env = {k: base[k] for k in ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR") if k in base}
    env.update(HOME=_config_dir, GH_CONFIG_DIR=_config_dir, NO_COLOR="1", GH_NO_UPDATE_NOTIFIER="1",
               GH_PROMPT_DISABLED="1", GH_PAGER="cat")
    url = urlsplit(cfg["GITHUB_API_URL"])
    host = url.netloc
    if url.scheme == "http":
        # gh speaks plain HTTP only to github.localhost; the proxy (in gh's environment only) reaches the server.
        env.update(GH_HOST="github.localhost", GH_TOKEN=cfg["GITHUB_TOKEN"], HTTP_PROXY=f"http://{host}",
                   http_proxy=f"http://{host}")
    elif host in ("api.github.com", "github.com"):
        env.update(GH_HOST="github.com", GH_TOKEN=cfg["GITHUB_TOKEN"])
    else:
        env.update(GH_HOST=host, GH_ENTERPRISE_TOKEN=cfg["GITHUB_TOKEN"])
    return env


def parse_response(raw: bytes) -> tuple[int | None, dict[str, str], Any]:
    """(status, headers, JSON body) from `gh api -i` output."""
    text = raw.decode("utf-8", "replace")
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = None
    parts = lines[0].split() if lines else []
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = {"message": body.strip()[:300]}
    return status, headers, data


class GhTracker:
    """Issues of one repository through `gh api` (REST); gh itself never retries."""

    name = "gh"
    remote = True

    def __init__(self, cfg: Mapping[str, Any], run: Callable[..., Any] = subprocess.run,
                 clock: Callable[[], float] = time.time):
        if not cfg["GITHUB_REPO"] or "/" not in cfg["GITHUB_REPO"]:
            raise TrackerError("GITHUB_REPO must be owner/name", FATAL)
        if not cfg["GITHUB_TOKEN"]:
            raise TrackerError("GITHUB_TOKEN is not set", FATAL)
        self.cfg = cfg
        self.repo = cfg["GITHUB_REPO"]
        self.marker_label = cfg["MARKER_LABEL"]
        self.run = run
        self.clock = clock

    def api(self, method: str, path: str, payload: Any = None) -> tuple[Any, dict[str, str]]:
        """One REST call; the JSON answer and its headers, or a classified TrackerError."""
        cmd = [self.cfg["GH_PATH"], "api", "-i", "-X", method, "-H", "Accept: application/vnd.github+json", path]
        body_file = None
        try:
            if payload is not None:
                # A file (not stdin) so gh sends a Content-Length rather than a chunked body.
                fd, body_file = tempfile.mkstemp(prefix="errortrail-gh-body-")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(payload, fh)
                cmd += ["--input", body_file]
            done = self.run(cmd, env=gh_environment(self.cfg), capture_output=True,
                            timeout=self.cfg["GITHUB_TIMEOUT_S"] * 2, check=False)
        except FileNotFoundError as exc:
            raise TrackerError(f"gh not found: {exc}", FATAL) from None
        except subprocess.TimeoutExpired:
            raise classify(None, None, f"gh api {method} {path}: timed out") from None
        finally:
            if body_file:
                os.unlink(body_file)
        status, headers, data = parse_response(done.stdout or b"")
        if done.returncode == 0 and status is not None and status < 400:
            return data, headers
        message = data.get("message", "") if isinstance(data, dict) else ""
        if not message:
            message = (done.stderr or b"").decode("utf-8", "replace").strip()[:300]
        raise classify(status, headers, f"gh api {method} {path.split('?')[0]}: {message}", self.clock())

    def _pages(self, path: str, params: dict[str, Any], limit: int) -> Iterator[dict]:
        seen = 0
        for page in range(1, limit // PER_PAGE + 2):
            data, headers = self.api("GET", f"{path}?{urlencode({**params, 'per_page': PER_PAGE, 'page': page})}")
            items = data.get("items", []) if isinstance(data, dict) else (data or [])
            for item in items:
                if seen >= limit:
                    return
                seen += 1
                yield item
            if len(items) < PER_PAGE or 'rel="next"' not in headers.get("Link", ""):
                return

    def _ref(self, item: Mapping[str, Any]) -> IssueRef:
        return IssueRef(number=item.get("number"), url=item.get("html_url") or "", state=item.get("state") or "open",
                        state_reason=item.get("state_reason"), title=item.get("title") or "",
                        body=item.get("body") or "")

    def find_existing(self, marker: str, key: str, since: datetime | None, search: bool = True) -> IssueRef | None:
        """Listing by the marker label (read-after-write), then search for the key."""
        params: dict[str, Any] = {"state": "all", "labels": self.marker_label, "sort": "created", "direction": "desc"}
        if since is not None:
            params["since"] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for item in self._pages(f"repos/{self.repo}/issues", params, LISTING_LIMIT):
            if marker in (item.get("body") or ""):
                return self._ref(item)
        if not search:
            return None
        query = {"q": f'"{key}" repo:{self.repo} is:issue in:body'}
        for item in self._pages("search/issues", query, 50):
            if marker in (item.get("body") or ""):
                return self._ref(item)
        return None

    def create(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        """POST one issue (gh never retries)."""
        data, _ = self.api("POST", f"repos/{self.repo}/issues", {"title": title, "body": body, "labels": list(labels)})
        return self._ref(data)

    def reopen(self, number: int, comment: str, comment_marker: str) -> IssueRef:
        """Reopen, then comment unless a comment with the marker is already there."""
        data, _ = self.api("PATCH", f"repos/{self.repo}/issues/{number}", {"state": "open"})
        comments = self._pages(f"repos/{self.repo}/issues/{number}/comments", {}, LISTING_LIMIT)
        if not any(comment_marker in (c.get("body") or "") for c in comments):
            self.api("POST", f"repos/{self.repo}/issues/{number}/comments", {"body": comment})
        return self._ref(data)

    def set_state(self, number: int, state: str, reason: str | None = None) -> IssueRef:
        """Close with a reason, or reopen."""
        payload = {"state": "closed", "state_reason": reason or "completed"} if state == "closed" else {"state": "open"}
        data, _ = self.api("PATCH", f"repos/{self.repo}/issues/{number}", payload)
        return self._ref(data)

    def get(self, number: int) -> IssueRef:
        """One issue."""
        data, _ = self.api("GET", f"repos/{self.repo}/issues/{number}")
        return self._ref(data)

    def changed_since(self, since: datetime | None) -> list[IssueRef]:
        """Labelled issues updated since `since`."""
        params: dict[str, Any] = {"state": "all", "labels": self.marker_label}
        if since is not None:
            params["since"] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [self._ref(i) for i in self._pages(f"repos/{self.repo}/issues", params, 10_000)]

    def highest_bug_number(self) -> int:
        """The highest B-NNN title among the repository's most recent issues."""
        params = {"state": "all", "sort": "created", "direction": "desc"}
        top = 0
        for item in self._pages(f"repos/{self.repo}/issues", params, self.cfg["SEED_SCAN_MAX_ISSUES"]):
            top = max(top, parse_bug_number(item.get("title") or "", self.cfg["BUG_PREFIX"]) or 0)
        return top

