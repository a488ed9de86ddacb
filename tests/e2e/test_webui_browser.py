"""The dashboard in a real headless Chromium (Playwright driving Debian's /usr/bin/chromium) against a live server.

Capture, the projector, bugbot and the dashboard share a fakeredis TCP server. The test logs in as staff,
produces errors on the live site, projects them, marks one as known and sees the live error page change,
files a bug from the preview, and writes screenshots of every page (laptop and phone widths) under
test-output/screenshots/. A stored XSS payload must never open a dialog; no page may break the strict CSP.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import REQUIRE_SERVICES

CHROMIUM = os.environ.get("ERRORTRAIL_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
PASSWORD = "staff-pass-e2e-123"
XSS = "<img src=x onerror=alert(document.domain)>"
XSS_UA = "<script>alert('ua')</script>"

pytestmark = pytest.mark.django_db(transaction=True)


def _missing(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"browser tests: {what}; CI requires it", pytrace=False)
    pytest.skip(f"browser tests: {what}")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (skipped locally, failed under CI, when either is missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing(f"{CHROMIUM} not found")
    # Playwright's sync API keeps an event loop in this thread; the database calls of the test are still sync.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def tcp_redis():
    """A fakeredis server on a local TCP port, shared by capture, the projector, bugbot and the dashboard."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0), server_version=(7, 0))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fakeredis-e2e", daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def site(live_server, settings, tcp_redis, tmp_path, django_user_model):
    """The live test site wired to the TCP Redis, a staff user, and a clean slate for every errortrail client."""
    from bugbot import bugids, connection as bugbot_connection, filing
    from capture import publish
    from webui import connection

    settings.ERRORTRAIL = {
        **settings.ERRORTRAIL, "REDIS_URL": tcp_redis, "PREFIX": f"e2e-{uuid.uuid4().hex[:8]}:",
        "BACKGROUND": True, "TICK_S": 0.5, "KNOWN_REFRESH_S": 0.0, "SPOOL_DIR": str(tmp_path / "spool"),
        "BUG_BACKEND": "local", "DASHBOARD_URL": live_server.url + "/errors/", "PROJECTOR_BLOCK_MS": 20,
        "PROJECTOR_CLAIM_INTERVAL_S": 0.0, "REPORT_INTERNAL_ERRORS": False,
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"
    for reset in (publish.reset, bugbot_connection.reset, connection.reset, bugids.remote_floor.reset):
        reset()
    filing._tracker = None
    django_user_model.objects.create_user("staff", "staff@site.test", PASSWORD, is_staff=True)
    yield live_server.url
    publish.reset()
    bugbot_connection.reset()
    connection.reset()
    filing._tracker = None


def project(redis_url: str) -> None:
    """Run the projector once until the stream is drained (what `run_projector --until-idle` does)."""
    from projector import conf
    from projector.loop import Projector
    from projector.store import for_alias

    client = redis.Redis.from_url(redis_url)
    try:
        Projector(client, for_alias("default"), conf.get(), conf.names(), consumer="e2e", until_idle=True).run()
    finally:
        client.close()


def shoot(page, name: str) -> None:
    """Full-page screenshots of the current page at laptop and phone widths."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}px"
    page.set_viewport_size({"width": WIDTHS["laptop"][0], "height": WIDTHS["laptop"][1]})


def group_url(site_url: str, **match) -> str:
    """The dashboard page of the one group matching the lookups."""
    from projector.models import ErrorGroup

    return f"{site_url}/errors/patterns/{ErrorGroup.objects.get(**match).fingerprint}/"


def test_staff_triage_in_a_real_browser(browser, site, tcp_redis, settings):
    from capture import publish
    from contracts.names import EVENT_FIELD
    from projector import conf

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    dialogs, csp_errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    # Anonymous: the dashboard sends us to the admin login, which brings us back.
    page.goto(site + "/errors/")
    assert "/admin/login/" in page.url
    shoot(page, "00-login")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(site + "/errors/")

    # Errors on the live site: a crashing view (three times), CSRF failures, XSS payloads in a message, a path, a UA.
    for _ in range(3):
        page.goto(site + "/crash/")
        assert "Something went wrong" in page.content()
    for _ in range(3):
        assert page.request.post(site + "/appointments/1/book/", form={"when": "monday"}).status == 403
    page.goto(site + "/crash/?name=" + XSS)
    page.request.get(site + "/pets/999/", headers={"User-Agent": XSS_UA})
    page.goto(site + "/nothing/" + XSS + "/")
    client = redis.Redis.from_url(tcp_redis)
    client.xadd(conf.names().errors(0), {EVENT_FIELD: b"\x81\xa1v\xcc\xff"})  # undecodable: a dead letter
    project(tcp_redis)

    # The overview shows the chart and the top patterns.
    page.goto(site + "/errors/")
    assert page.locator("svg.chart-svg rect").count() > 0
    assert page.locator("table.patterns td.title").get_by_text("KeyError").count() >= 1
    assert page.locator("table.patterns td.title").get_by_text("CSRF failure").count() == 1
    shoot(page, "01-overview")
    page.click("text=30 days")
    assert page.locator("svg.chart-svg rect").count() > 0
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.goto(site + "/errors/patterns/")
    shoot(page, "02-patterns")

    # Mark the crash as known: the live site's error page changes to "We're aware".
    crash = group_url(site, exc_message="'missing-x'")
    page.goto(crash)
    shoot(page, "03-pattern")
    page.fill("#id_message", "Invoices fail to load; a fix is on its way.")
    page.click("button:has-text('Mark as known')")
    assert "Marked as known issue B-" in page.locator(".messages").inner_text()
    assert publish.worker().wait_ticks(2, timeout_s=20)  # capture's background refresh of the known map
    page.goto(site + "/crash/")
    assert "We're aware of this problem" in page.content()
    assert "Invoices fail to load" in page.content()
    shoot(page, "04-live-site-aware")

    # File the CSRF pattern from the preview (local backend).
    page.goto(group_url(site, cls="csrf"))
    page.click("text=File a bug now")
    title = page.locator(".issue-title").inner_text()
    assert title.startswith("B-") and "CSRF failure" in title
    shoot(page, "05-file-preview")
    page.click("button:has-text('File this bug')")
    assert "is being filed" in page.content()
    page.goto(site + "/errors/known/")
    assert page.locator("table.known").get_by_text("filed").count() >= 1
    shoot(page, "06-known-issues")
    page.click("table.known >> text=" + title.split(":")[0])
    shoot(page, "07-known-issue")

    # Dead letters: the undecodable entry is listed with its reason; discard it.
    page.goto(site + "/errors/dead/")
    assert "unknown event type" in page.locator("td.reason").first.inner_text()
    shoot(page, "08-dead-letters")
    page.click("button:has-text('Discard')")
    assert "Discarded." in page.content()

    # The stored payloads render as text on every page that shows them, and never run.
    page.goto(group_url(site, exc_message__contains="onerror"))
    assert XSS in page.locator("h1").inner_text()
    shoot(page, "09-pattern-xss")
    page.goto(group_url(site, status=404, path="/pets/999/"))
    page.click("text=Request data (scrubbed)")
    page.goto(site + "/errors/?range=7d")
    page.goto(site + "/errors/api/top/")
    assert dialogs == []
    assert csp_errors == []
    client.close()
    context.close()
