"""The whole errortrail system as processes: private Redis and PostgreSQL, the GitHub stand-in, the site under
gunicorn, run_projector and run_bugbot; with the knobs the fault tests turn."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis
import requests

from contracts.names import Names
from tests.e2e.procs import observe
from tests.e2e.procs.proc import Proc, free_port, port_open, run, wait_for
from tests.e2e.procs.services import PostgresCluster, RedisServer

REPO = Path(__file__).resolve().parents[3]
PYTHON = sys.executable
GITHUB_REPO = "errortrail/site"
GITHUB_TOKEN = "e2e-standin-token"
STAFF, PASSWORD = "staff", "e2e-staff-password-7c1"
SPOOL_TMPFS = "16m"
START_TIMEOUT_S = 120


class StaffClient:
    """A signed-in staff browser session against the site (the dashboard and its JSON API)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy

    def login(self) -> None:
        page = self.session.get(self.base + "/admin/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, f"no CSRF token on the login page ({page.status_code})"
        done = self.session.post(self.base + "/admin/login/?next=/errors/", timeout=30, allow_redirects=False, data={
            "csrfmiddlewaretoken": token.group(1), "username": STAFF, "password": PASSWORD, "next": "/errors/"})
        assert done.status_code == 302, f"staff login failed: {done.status_code} {done.text[:300]}"

    def health(self) -> dict:
        """The dashboard's health panel as JSON (/errors/api/health/)."""
        response = self.session.get(self.base + "/errors/api/health/", timeout=30, allow_redirects=False)
        assert response.status_code == 200, f"health API answered {response.status_code}: {response.text[:300]}"
        return response.json()["health"]


class Stack:
    """Every process of the system; start() brings it up, close() takes everything down (whatever happened)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.names = Names()
        self.redis = RedisServer(work / "redis", self.logs)
        self.pg = PostgresCluster()
        self.spool = work / "spool"
        self.spool.mkdir()
        self.tmpfs = False
        self.site_port, self.standin_port = free_port(), free_port()
        self.site_url = f"http://127.0.0.1:{self.site_port}"
        self.standin_url = f"http://127.0.0.1:{self.standin_port}"
        self.env = self._env()
        django = [PYTHON, "-m", "django"]
        self.standin = Proc("standin", [PYTHON, "-m", "tests.github_standin", "--port", str(self.standin_port),
                                        "--repo", GITHUB_REPO, "--token", GITHUB_TOKEN], self.env, REPO, self.logs)
        self.site = Proc("site", [PYTHON, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
                                  "--bind", f"127.0.0.1:{self.site_port}", "--timeout", "60", "--graceful-timeout", "5",
                                  "--no-control-socket", "tests.e2e.procs.wsgi:application"], self.env, REPO, self.logs)
        self.projector = Proc("projector", [*django, "run_projector", "--consumer", "projector-e2e"], self.env, REPO,
                              self.logs)
        self.bugbot = Proc("bugbot", [*django, "run_bugbot", "--consumer", "bugbot-e2e"], self.env, REPO, self.logs)
        self.staff = StaffClient(self.site_url)
        self._cleanup = ExitStack()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ERRORTRAIL_", "GITHUB_", "DJANGO_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "tests.e2e.procs.settings",
            "PYTHONPATH": str(REPO),
            "E2E_PG_PORT": str(self.pg.port),
            "E2E_SITE_DB": str(self.work / "site.sqlite3"),
            "ERRORTRAIL_REDIS_URL": self.redis.url,
            "ERRORTRAIL_SPOOL_DIR": str(self.spool),
            "ERRORTRAIL_BUG_BACKEND": "github",
            "ERRORTRAIL_DASHBOARD_URL": self.site_url + "/errors/",
            "GITHUB_API_URL": self.standin_url,
            "GITHUB_REPO": GITHUB_REPO,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_WEBHOOK_SECRET": "e2e-webhook-secret",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        })
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(var, None)
        return env

    # -- lifecycle --

    def start(self) -> "Stack":
        """Bring everything up; on any failure the caller's close() takes down what started."""
        self._cleanup.callback(self.pg.destroy)
        self._cleanup.callback(self.redis.stop)
        self.redis.start()
        self.pg.init()
        self.tmpfs = self._mount_spool()
        self.django("migrate", "--noinput", "-v", "0")
        self.django("migrate", "--database", "site", "--noinput", "-v", "0")
        self.django("createsuperuser", "--noinput", "--database", "site", "--username", STAFF,
                    "--email", "staff@site.test")
        for proc in (self.standin, self.site, self.projector, self.bugbot):
            self._cleanup.callback(proc.stop)
            proc.start()
        wait_for(lambda: port_open(self.standin_port), START_TIMEOUT_S, "the GitHub stand-in", detail=self.standin.tail)
        wait_for(self._site_answers, START_TIMEOUT_S, "the site under gunicorn", detail=self.site.tail)
        self.staff.login()
        return self

    def close(self) -> None:
        """Stop every process (process groups, SIGKILL after a grace period), unmount, remove the cluster."""
        self._cleanup.close()

    def _site_answers(self) -> bool:
        return requests.get(self.site_url + "/", timeout=5, proxies={"http": None}).status_code == 200

    def _mount_spool(self) -> bool:
        """A tmpfs of its own for the spool when we may mount (root), so a test can shrink its quota."""
        if os.geteuid() != 0 or not shutil.which("mount") or os.environ.get("ERRORTRAIL_E2E_NO_TMPFS") == "1":
            return False
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SPOOL_TMPFS},mode=0700", "tmpfs",
                               str(self.spool)], capture_output=True, text=True)
        if done.returncode != 0:
            return False
        self._cleanup.callback(lambda: subprocess.run(["umount", "-l", str(self.spool)], capture_output=True))
        return True

    def django(self, *args: str) -> str:
        """Run a management command of the site to completion."""
        return run([PYTHON, "-m", "django", *args], env=self.env, cwd=REPO)

    # -- faults and repairs --

    def repair(self) -> None:
        """Undo whatever fault a failed test left behind: services up, quota back, faults cleared, processes running."""
        if not self.redis.proc.alive():
            self.redis.start()
        if not self.pg.running:
            self.pg.start()
        self.unblock_spool()
        self.clear_faults()
        for proc in (self.standin, self.site, self.projector, self.bugbot):
            if not proc.alive():
                proc.start()

    def block_spool(self, quota: str) -> str:
        """Make spool writes fail: shrink the tmpfs quota when mounted, else put a file where the directory was."""
        if self.tmpfs:
            self.resize_spool(quota)
            return f"tmpfs quota {quota}"
        if self.spool.is_dir():
            self.spool.rename(self.spool.with_name("spool.kept"))
            self.spool.write_text("the spool directory is not available\n")
        return "a file in place of the spool directory"

    def unblock_spool(self) -> None:
        """Give the spool its room back."""
        if self.tmpfs:
            self.resize_spool(SPOOL_TMPFS)
        elif self.spool.is_file():
            self.spool.unlink()
            self.spool.with_name("spool.kept").rename(self.spool)

    def resize_spool(self, size: str) -> None:
        """Change the spool tmpfs's quota (e.g. '256k'); only when it is mounted."""
        run(["mount", "-o", f"remount,size={size}", str(self.spool)])

    def spool_free_bytes(self) -> int:
        """Bytes still writable in the spool directory's filesystem."""
        stats = os.statvfs(self.spool)
        return stats.f_bavail * stats.f_frsize

    def spool_files(self) -> list[str]:
        """Spool files waiting on disk."""
        try:
            return sorted(n for n in os.listdir(self.spool) if n.endswith(".spool"))
        except OSError:
            return []

    def fault(self, **fault: Any) -> dict:
        """Arm a fault on the GitHub stand-in (see tests/github_standin/README.md)."""
        return observe.http_json(self.standin_url + "/_control/faults", "POST", fault)

    def clear_faults(self) -> None:
        observe.http_json(self.standin_url + "/_control/faults", "DELETE")

    def standin_state(self) -> dict:
        return observe.http_json(self.standin_url + "/_control/state")

    # -- reads --

    def redis_client(self) -> redis.Redis:
        return self.redis.client()

    def db(self) -> observe.DbView:
        return observe.db_view(self.pg.dsn())

    def streams(self) -> observe.RedisView:
        with self.redis_client() as client:
            return observe.redis_view(client, self.names)

    def logs_tail(self) -> str:
        """The end of every process log (for failure messages)."""
        parts = [f"--- {p.name} ---\n{p.tail(25)}" for p in (self.site, self.projector, self.bugbot, self.standin)]
        return "\n".join(parts + [f"--- postgres ---\n{self.pg.tail(10)}"])
