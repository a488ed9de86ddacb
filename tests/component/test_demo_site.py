"""The demo site: its settings pass Django's checks, it migrates, and `make demo`'s run.py serves friendly pages."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import redis

from contracts import codec
from demo import run

REPO = Path(__file__).resolve().parents[2]
MANAGE = REPO / "demo" / "manage.py"
TIMEOUT_S = 120


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment that keeps the demo's files in tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "ERRORTRAIL_REDIS_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        DEMO_VAR_DIR=str(tmp_path / "var"),
        ERRORTRAIL_SPOOL_DIR=str(tmp_path / "spool"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MANAGE), *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def test_deploy_checks_pass_with_capture_fully_wired(tmp_path):
    result = manage(demo_env(tmp_path), "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr
    assert "capture." not in result.stdout + result.stderr  # no capture.E/W: middleware, handlers, CSRF view wired


def test_deploy_checks_fail_on_a_bad_redis_url(tmp_path):
    result = manage(demo_env(tmp_path, ERRORTRAIL_REDIS_URL="http://not-redis"), "check", "--fail-level", "ERROR")
    assert result.returncode != 0
    assert "capture.E005" in result.stdout + result.stderr


def test_migrate_seeds_the_pets_and_the_demo_user_command_is_idempotent(tmp_path):
    env = demo_env(tmp_path)
    result = manage(env, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    for expected in ("created", "reset"):
        result = manage(env, "demo_user", "--username", "vet", "--password", "a-long-demo-password")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(expected)
    with contextlib.closing(sqlite3.connect(tmp_path / "clinic.sqlite3")) as db:
        pets = dict(db.execute("SELECT name, species FROM clinic_pet"))
        staff = db.execute("SELECT is_staff, is_superuser FROM auth_user WHERE username = 'vet'").fetchall()
    assert pets == {"Rex": "dog", "Misty": "cat", "Biscuit": "dog", "Clover": "rabbit", "Pepper": "cat"}
    assert staff == [(1, 1)]
    assert (tmp_path / "var").is_dir()


@pytest.fixture
def tcp_fakeredis():
    """fakeredis's TCP server as run.py starts it; yields its URL."""
    with contextlib.ExitStack() as stack:
        yield run.start_fakeredis(stack).url


def test_choose_redis_prefers_a_configured_redis_that_answers(tcp_fakeredis):
    with contextlib.ExitStack() as stack:
        choice = run.choose_redis(stack, {"REDIS_URL": tcp_fakeredis}, "auto")
    assert (choice.url, choice.kind) == (tcp_fakeredis, "from the environment")


def test_choose_redis_falls_back_when_the_configured_one_is_silent(capsys):
    silent = f"redis://127.0.0.1:{run.free_port()}/0"
    with contextlib.ExitStack() as stack:
        choice = run.choose_redis(stack, {"ERRORTRAIL_REDIS_URL": silent}, "fakeredis")
        assert choice.url != silent and "fakeredis" in choice.kind
        assert redis.Redis.from_url(choice.url).ping()
    with contextlib.ExitStack() as stack, pytest.raises(RuntimeError, match="does not answer"):
        run.choose_redis(stack, {"ERRORTRAIL_REDIS_URL": silent}, "url")
    with contextlib.ExitStack() as stack, pytest.raises(RuntimeError, match="needs ERRORTRAIL_REDIS_URL"):
        run.choose_redis(stack, {}, "url")
    with contextlib.ExitStack() as stack, pytest.raises(ValueError):
        run.choose_redis(stack, {}, "memcached")
    assert not run.redis_answers(silent)


@pytest.mark.skipif(not run.shutil.which("redis-server"), reason="no redis-server on the PATH")
def test_choose_redis_starts_and_stops_a_local_redis_server():
    with contextlib.ExitStack() as stack:
        choice = run.choose_redis(stack, {}, "auto")
        assert "redis-server" in choice.kind
        assert redis.Redis.from_url(choice.url).ping()
    assert not run.redis_answers(choice.url)


class Browser:
    """A tiny HTTP client with a cookie jar (no redirects followed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = dict(headers or {})
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            if body:
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
            for raw in response.headers.get_all("Set-Cookie") or []:
                self.cookies.update({k: m.value for k, m in SimpleCookie(raw).items()})
            return response.status, dict(response.headers), text
        finally:
            conn.close()


def _wait_for_banner(proc: subprocess.Popen, log: Path) -> None:
    # Poll run.py's output (the banner follows the site and the consumers); proc.wait(timeout) doubles as the
    # pause and notices an early exit.
    for _ in range(TIMEOUT_S * 10):
        if "Press Ctrl-C to stop." in log.read_text():
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.1)
            pytest.fail(f"demo/run.py exited early with {proc.returncode}")
    pytest.fail(f"demo/run.py never printed its banner:\n{log.read_text()[-5000:]}")


def _events(url: str, count: int) -> list:
    client = redis.Redis.from_url(url)
    done = threading.Event()
    entries: list = []
    # Errors that met a slow fakeredis go through the spool and arrive with the next background flush.
    for _ in range(TIMEOUT_S * 10):
        entries = client.xrange("errortrail:errors")
        if len(entries) >= count or done.wait(0.1):
            break
    return [codec.decode(fields[b"e"]) for _, fields in entries]


@pytest.mark.slow
def test_run_py_serves_the_site_and_its_friendly_error_pages(tmp_path, tcp_fakeredis):
    port = run.free_port()
    env = demo_env(tmp_path, ERRORTRAIL_REDIS_URL=tcp_fakeredis, DEMO_REDIS="url", DEMO_PORT=str(port),
                   DEMO_TRAFFIC="never")
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen([sys.executable, str(REPO / "demo" / "run.py")], env=env, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_banner(proc, tmp_path / "run.log")
        site = f"http://127.0.0.1:{port}"
        browser = Browser(port)

        status, _, home = browser.request("GET", "/")
        assert status == 200 and "Paws &amp; Claws" in home and 'href="/vets/"' in home and "Clover" in home

        status, _, form = browser.request("GET", "/appointments/1/book/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        status, headers, _ = browser.request("POST", "/appointments/1/book/", f"csrfmiddlewaretoken={token}"
                                             "&day=2099-01-02&slot=09:30&reason=Vaccination")
        assert (status, headers["Location"]) == (302, "/pets/1/")
        status, _, pet = browser.request("GET", "/pets/1/")
        assert status == 200 and "Vaccination" in pet

        status, _, csrf = Browser(port).request("POST", "/appointments/1/book/", "day=2099-01-02&slot=10:00&reason=x")
        assert status == 403 and "This form has expired" in csrf and "Reference:" in csrf

        status, _, crash = browser.request("GET", "/pets/4/invoice/")
        assert status == 500 and "Something went wrong" in crash and "KeyError" not in crash
        assert "clinic/site.css" in crash and "Error 500" in crash  # the site's own look

        status, _, missing = browser.request("GET", "/pets/999/")
        assert status == 404 and "We can&#x27;t find that page" in missing and "Paws &amp; Claws" in missing

        status, _, broken = browser.request("GET", "/vets/", headers={"Referer": f"{site}/"})
        assert status == 404 and f'href="{site}/"' in broken  # a safe "Go back" link to the referring page

        status, headers, api = browser.request("GET", "/api/pets/4/")
        assert status == 200 and '"name": "Clover"' in api
        status, headers, api_missing = browser.request("GET", "/api/pets/999/")
        assert status == 404 and headers["Content-Type"] == "application/json"
        assert '"code":"page_not_found"' in api_missing

        events = _events(tcp_fakeredis, 5)
        seen = sorted((e.cls, e.status, e.path) for e in events)
        assert seen == [
            ("app_error", 500, "/pets/4/invoice/"),
            ("broken_link", 404, "/vets/"),
            ("csrf", 403, "/appointments/1/book/"),
            ("not_found", 404, "/api/pets/999/"),
            ("not_found", 404, "/pets/999/"),
        ]
        crash_event = next(e for e in events if e.cls == "app_error")
        assert crash_event.exc_type == "KeyError" and crash_event.environment == "demo"
        assert crash_event.route == "pets/<int:pk>/invoice/"
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        proc.wait(TIMEOUT_S)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert proc.returncode == 0, output
    assert f"{site}/admin/   user demo  password paws-and-claws" in output
    assert "Stopping the demo" in output and "Traceback" not in output.split("Stopping the demo")[1]
    assert not run.port_open("127.0.0.1", port)


SITE_WITH_EVERYTHING_DOWN = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "demo.petclinic.settings"
import django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
for path in ("/pets/1/", "/vets/"):
    response = client.get(path)
    print(response.status_code, response.content.decode())
"""


def test_friendly_pages_keep_the_site_look_with_the_database_and_redis_down(tmp_path):
    closed = run.free_port()
    env = demo_env(tmp_path, DATABASE_URL=f"postgres://nobody@127.0.0.1:{closed}/clinic",
                   ERRORTRAIL_REDIS_URL=f"redis://127.0.0.1:{closed}/0", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", SITE_WITH_EVERYTHING_DOWN], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    crash, missing = result.stdout.split("\n404 ")
    assert crash.startswith("500 ") and "Something went wrong" in crash and "Error 500" in crash
    assert "We can&#x27;t find that page" in missing
    for page in (crash, missing):
        assert "clinic/site.css" in page and "Paws &amp; Claws" in page and "Reference:" in page
    assert list((tmp_path / "spool").rglob("*")), "the events should wait in the spool"
