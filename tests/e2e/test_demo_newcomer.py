"""`make demo` as a newcomer runs it: start-up, the first-start traffic, the dashboard, B-001, Ctrl-C.

Once on embedded defaults with nothing listening for Redis (the fakeredis fallback, temp SQLite and spool),
and once on the real Redis and a PostgreSQL database of its own, set through the environment variables.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
import redis

from demo import run
from demo.traffic import Site
from tests.conftest import service_missing

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 120.0
STOP_DEADLINE_S = 90.0
PG = {"host": os.environ.get("ERRORTRAIL_TEST_PGHOST", "127.0.0.1"),
      "port": os.environ.get("ERRORTRAIL_TEST_PGPORT", "5432"),
      "user": os.environ.get("ERRORTRAIL_TEST_PGUSER", "postgres")}
# What a newcomer's shell would not have: anything that points the demo somewhere else.
FOREIGN = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "GITHUB_TOKEN", "GITHUB_REPO",
           "DEMO_PORT", "DEMO_REDIS", "DEMO_TRAFFIC", "DEMO_VAR_DIR", "DEMO_USER", "DEMO_PASSWORD")


def newcomer_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """A clean environment whose demo files all live in tmp_path."""
    env = {k: v for k, v in os.environ.items()
           if k not in FOREIGN and not k.startswith(("ERRORTRAIL_", "ERROR_", "PYTEST_"))}
    env.update(DEMO_PORT=str(port), DEMO_VAR_DIR=str(tmp_path / "var"),
               ERRORTRAIL_SPOOL_DIR=str(tmp_path / "spool"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def descendants(root: int) -> set[int]:
    """Every live process below `root` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Demo:
    """demo/run.py in its own session, as a terminal would run it; Ctrl-C is SIGINT to the whole group."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.port = int(env["DEMO_PORT"])
        self.log_path = tmp_path / "demo.log"
        self.var = Path(env["DEMO_VAR_DIR"])
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "demo" / "run.py")], env=env, cwd=REPO,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.seen: set[int] = set()
        self.site = Site(f"http://127.0.0.1:{self.port}")

    def output(self) -> str:
        return self.log_path.read_text()

    def logs(self) -> str:
        """run.py's output and every program's log, for failure messages."""
        parts = [self.output()[-6000:]]
        for log in sorted((self.var / "log").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text()[-3000:]}")
        return "\n".join(parts)

    def wait_for(self, what: str, condition, deadline_s: float = DEADLINE_S) -> None:
        """Poll `condition` (recording the process tree each time); fail with the logs if run.py exits first."""
        for _ in range(int(deadline_s / 0.25)):
            self.seen |= descendants(self.proc.pid)
            if condition():
                return
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.25)  # the pause between polls, and a check that run.py is still there
                pytest.fail(f"demo/run.py exited ({self.proc.returncode}) before {what}:\n{self.logs()}")
        pytest.fail(f"no {what} within {deadline_s:.0f} s:\n{self.logs()}")

    def redis_url(self) -> str:
        return re.search(r"^\s+Redis\s+(\S+)", self.output(), re.M).group(1)

    def ctrl_c(self) -> int:
        """SIGINT to the foreground process group, then wait for everything to stop."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(STOP_DEADLINE_S)

    def kill_leftovers(self) -> None:
        """The finally: kill run.py's group and the group of every process it ever had below it."""
        for pid in {self.proc.pid} | self.seen:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self._log.close()


def log_in(site: Site, username: str, password: str) -> None:
    """The admin login, as a person would use it (the dashboard's LOGIN_URL)."""
    form = site.request("GET", "/admin/login/?next=/errors/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1)
    body = f"csrfmiddlewaretoken={token}&username={username}&password={password}&next=/errors/"
    answer = site.request("POST", "/admin/login/?next=/errors/", body,
                          headers={"Referer": f"{site.url}/admin/login/"})
    assert (answer.status, answer.headers.get("Location")) == (302, "/errors/"), answer.body[:2000]


def known_bug_ids(url: str, prefix: str) -> set[str]:
    """Bug ids of the open exact entries of the known-issue map in Redis (what every live-site process reads)."""
    from contracts import known
    from contracts.names import Names

    client = redis.Redis.from_url(url)
    try:
        return {entry.bug_id for entry in known.load(client, Names(prefix=prefix)).exact.values()}
    finally:
        client.close()


def top_classes(staff: Site) -> set[str]:
    """Classes of the dashboard's top patterns over 24 hours (its JSON API)."""
    answer = staff.request("GET", "/errors/api/top/?range=24h&limit=50")
    assert answer.status == 200, answer.body[:2000]
    return {row["class"] for row in orjson.loads(answer.body)["patterns"]}


def prove_the_tour(demo: Demo, prefix: str = "errortrail:") -> None:
    """What the README's tour promises after the first start's traffic."""
    demo.wait_for("banner", lambda: "Press Ctrl-C to stop." in demo.output())
    output = demo.output()
    assert f"staff login   http://127.0.0.1:{demo.port}/admin/   user demo  password paws-and-claws" in output
    assert f"dashboard     http://127.0.0.1:{demo.port}/errors/" in output
    assert "bug tracker   local" in output

    demo.wait_for("the first-start traffic", lambda: "[traffic] done" in demo.output())
    assert "names B-001" in demo.output(), demo.logs()

    # The buggy page now says errortrail knows the problem, and names the bug.
    page = demo.site.request("GET", "/pets/4/invoice/")
    assert page.status == 500 and "aware of this problem" in page.body and "B-001" in page.body

    # A local B-001 exists: in the known map every live-site process reads, and on the dashboard.
    assert "B-001" in known_bug_ids(demo.redis_url(), prefix)

    staff = Site(demo.site.url)
    log_in(staff, "demo", "paws-and-claws")
    overview = staff.request("GET", "/errors/")
    assert overview.status == 200 and "B-001" in overview.body and "KeyError" in overview.body

    # Every kind of traffic became a pattern (scanners are counted as probes, never filed).
    every_kind = {"app_error", "csrf", "broken_link", "probe", "not_found"}
    demo.wait_for("every kind of traffic on the dashboard", lambda: every_kind <= top_classes(staff))
    known = staff.request("GET", "/errors/known/B-001/")
    assert known.status == 200 and "KeyError" in known.body


def stop_and_check(demo: Demo) -> None:
    """Ctrl-C: every process stops gracefully and nothing is left behind."""
    demo.seen |= descendants(demo.proc.pid)
    assert len(demo.seen) >= 5, demo.seen  # supervisord, the site, run_projector, run_bugbot, celery
    assert demo.ctrl_c() == 0, demo.logs()
    output = demo.output()
    assert "Stopping the demo" in output and "Traceback" not in output.split("Stopping the demo")[1]
    for program in ("site", "projector", "bugbot", "celery"):
        assert f"stopped: {program} (exit status 0)" in output, demo.logs()
    assert [pid for pid in demo.seen if alive(pid)] == [], "left running after Ctrl-C"
    assert not run.port_open("127.0.0.1", demo.port)


def test_make_demo_on_embedded_defaults_with_no_redis_listening(tmp_path):
    port = run.free_port()
    silent = f"redis://127.0.0.1:{run.free_port()}/0"
    # The fallback chain ends in fakeredis: the configured Redis is silent, and DEMO_REDIS=fakeredis skips the
    # machine's redis-server as a newcomer's machine would not have one.
    env = newcomer_env(tmp_path, port, ERRORTRAIL_REDIS_URL=silent, DEMO_REDIS="fakeredis")
    demo = Demo(tmp_path, env)
    try:
        prove_the_tour(demo)
        assert "fakeredis in this process" in demo.output()
        assert (tmp_path / "var" / "clinic.sqlite3").exists()
        stop_and_check(demo)
    finally:
        demo.kill_leftovers()


def bug_ids_in(database_url: str) -> set[str]:
    """The known issues' bug ids stored in a PostgreSQL database."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=3) as conn:
        return {row[0] for row in conn.execute("SELECT bug_id FROM errortrail_bugbot_knownissue")}


@pytest.fixture
def postgres_database():
    """A PostgreSQL database of its own, dropped afterwards; yields its URL."""
    try:
        import psycopg

        admin = psycopg.connect(dbname="postgres", connect_timeout=3, autocommit=True, **PG)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not reachable"
        service_missing("PostgreSQL", f"{PG['host']}:{PG['port']}: {exc}")
    name = f"errortrail_demo_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.integration
def test_make_demo_on_real_redis_and_postgresql_through_two_variables(tmp_path, redis_url, real_redis,
                                                                      postgres_database):
    client, prefix = real_redis
    port = run.free_port()
    # The two variables, plus a key prefix of its own: other test runs share this Redis.
    env = newcomer_env(tmp_path, port, DATABASE_URL=postgres_database, ERRORTRAIL_REDIS_URL=redis_url,
                       ERRORTRAIL_PREFIX=prefix)
    demo = Demo(tmp_path, env)
    try:
        prove_the_tour(demo, prefix)
        assert "from the environment" in demo.output()
        assert not (tmp_path / "var" / "clinic.sqlite3").exists()
        assert "B-001" in bug_ids_in(postgres_database)
        assert client.exists(f"{prefix}errors") and client.hlen(f"{prefix}known") >= 1
        assert any(key.startswith(f"{prefix}celery:".encode()) for key in client.scan_iter(match=f"{prefix}*"))
        stop_and_check(demo)
    finally:
        demo.kill_leftovers()
