"""`make demo-traffic`: drive the demo site through a bug, CSRF failures, a broken link and a scanner."""

from __future__ import annotations

import argparse
import http.client
import os
import re
import sys
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Callable
from urllib.parse import urlsplit

BUGGY_PATH = "/pets/4/invoice/"  # Clover the rabbit: no consultation fee for rabbits, so the view raises
BOOKING_PATH = "/appointments/1/book/"
BROKEN_LINK = "/vets/"  # linked from the home page, but there is no such page
MISSING_PATHS = ("/pets/999/", "/pets/1000/", "/api/pets/999/")
SCANNER_AGENT = "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))"
SCANNER_PATHS = (
    "/wp-login.php", "/wp-admin/setup-config.php", "/xmlrpc.php", "/.env", "/.git/config", "/config.php",
    "/phpmyadmin/index.php", "/cgi-bin/test.cgi", "/admin.php", "/backup.sql",
)
AWARE = "aware of this problem"
BUG_ID = re.compile(r"\b([A-Z][A-Z0-9]{0,5}-\d{3,})\b")
POLL_S = 1.0


@dataclass
class Response:
    """What one request got back."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    """A small HTTP client for the demo site with a cookie jar (redirects are not followed)."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected http://host:port, got {url!r}")
        self.url = f"http://{parts.netloc}"
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None,
                cookies: bool = True) -> Response:
        """One request; Set-Cookie answers go into the jar."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            sent = dict(headers or {})
            if cookies and self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            if body:
                sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
            conn.request(method, path, body=body.encode() if body else None, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for raw in response.headers.get_all("Set-Cookie") or []:
                self.cookies.update({k: m.value for k, m in SimpleCookie(raw).items()})
            return Response(response.status, text, dict(response.headers))
        finally:
            conn.close()

    def answers(self) -> bool:
        """Whether the home page answers 200."""
        try:
            return self.request("GET", "/").status == 200
        except OSError:
            return False


def poll(ready: Callable[[], bool], timeout_s: float) -> bool:
    """Call `ready` every POLL_S until it is true or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def say(text: str) -> None:
    print(f"[traffic] {text}", flush=True)


def statuses(responses: list[Response]) -> str:
    """'500 x3' style summary of the statuses seen."""
    seen: dict[int, int] = {}
    for response in responses:
        seen[response.status] = seen.get(response.status, 0) + 1
    return ", ".join(f"{status} x{count}" for status, count in sorted(seen.items()))


def buggy_invoice(site: Site, times: int) -> list[Response]:
    """The invoice view that raises KeyError (an app_error, 500)."""
    return [site.request("GET", BUGGY_PATH) for _ in range(times)]


def csrf_failures(site: Site, times: int) -> list[Response]:
    """The booking form posted by a client that never got its CSRF cookie (403)."""
    form = "day=2099-01-02&slot=09:30&reason=Check-up"
    return [site.request("POST", BOOKING_PATH, form, cookies=False) for _ in range(times)]


def broken_link(site: Site, times: int) -> list[Response]:
    """The home page's link to /vets/, followed from the home page (404 with a same-site Referer)."""
    return [site.request("GET", BROKEN_LINK, headers={"Referer": f"{site.url}/"}) for _ in range(times)]


def scanner(site: Site) -> list[Response]:
    """A vulnerability scanner trying the usual paths (class probe: counted, never filed)."""
    return [site.request("GET", path, headers={"User-Agent": SCANNER_AGENT}) for path in SCANNER_PATHS]


def missing_pages(site: Site) -> list[Response]:
    """Plain 404s: mistyped pet ids, in pages and in the JSON API."""
    return [site.request("GET", path) for path in MISSING_PATHS]


def known_bug(site: Site) -> str | None:
    """The bug id the buggy page names once errortrail knows it ("We're aware of this problem"), else None."""
    try:
        page = site.request("GET", BUGGY_PATH)
    except OSError:
        return None
    if AWARE not in page.body:
        return None
    found = BUG_ID.search(page.body)
    return found.group(1) if found else "?"


def drive(site: Site, threshold: int, wait_s: float) -> int:
    """Every kind of traffic; 0 once the buggy page says errortrail is aware of it, else 1."""
    if not poll(site.answers, wait_s):
        say(f"{site.url}/ does not answer; start the demo first (make demo).")
        return 2
    say(f"{BUGGY_PATH}: the invoice bug, {threshold} times ({statuses(buggy_invoice(site, threshold))})")
    found: list[str] = []

    def filed() -> bool:
        bug_id = known_bug(site)
        found.extend([bug_id] if bug_id else [])
        return bool(bug_id)

    say(f"waiting (up to {wait_s:.0f} s) for run_projector and run_bugbot to file it…")
    aware = poll(filed, wait_s)
    if aware:
        say(f"{BUGGY_PATH} now says \"We're aware of this problem\" and names {found[-1]}")
    else:
        say(f"{BUGGY_PATH} still shows the generic error page: are run_projector and run_bugbot running?")
    say(f"{BOOKING_PATH}: CSRF failures, {threshold} times ({statuses(csrf_failures(site, threshold))})")
    say(f"{BROKEN_LINK}: a broken internal link, {threshold} times ({statuses(broken_link(site, threshold))})")
    say(f"a scanner: {len(SCANNER_PATHS)} probes ({statuses(scanner(site))})")
    say(f"missing pages ({statuses(missing_pages(site))})")
    say(f"done: see {site.url}/errors/ (staff login at {site.url}/admin/)")
    return 0 if aware else 1


def default_url(environ: dict[str, str]) -> str:
    """DEMO_URL, else the demo's address on DEMO_PORT (8000)."""
    return environ.get("DEMO_URL") or f"http://127.0.0.1:{environ.get('DEMO_PORT', '8000')}"


def main(argv: list[str] | None = None) -> int:
    """Drive the site once; the exit code says whether the buggy page became a known issue in time."""
    environ = dict(os.environ)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=default_url(environ), help="the demo site (default: DEMO_URL or port 8000)")
    parser.add_argument("--threshold", type=int, default=int(environ.get("ERROR_AUTO_BUG_THRESHOLD") or 3),
                        help="requests per pattern (default: ERROR_AUTO_BUG_THRESHOLD, 3)")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the bug to be filed")
    args = parser.parse_args(argv)
    try:
        return drive(Site(args.url), max(1, args.threshold), args.wait)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
