"""What the storm benchmark starts (a private redis-server, gunicorn) and its PostgreSQL; stopped by their own ids."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent.parent
WORKERS = 2
HEALTHY_PATH = "/pets/7/"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll check() until it holds; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s} s")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM the process we started, then SIGKILL its process group if it is still there."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: gunicorn's workers go with it
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(10)


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), so its command stats are only ours."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        self.client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            wait_until(self._answers, 20, "redis-server")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        import redis

        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False

    def xadd_calls(self) -> int:
        """XADDs this server executed since the last CONFIG RESETSTAT."""
        return int(self.client.info("commandstats").get("cmdstat_xadd", {}).get("calls", 0))

    def stop(self) -> None:
        self.client.close()
        stop_process(self.proc, 10)


def pg_params() -> dict[str, Any]:
    """The PostgreSQL server (BENCH_PG* or the test suite's ERRORTRAIL_TEST_PG* variables, else local defaults)."""
    def get(name: str, default: str) -> str:
        return os.environ.get(f"BENCH_PG{name}") or os.environ.get(f"ERRORTRAIL_TEST_PG{name}") or default

    return {"host": get("HOST", "127.0.0.1"), "port": int(get("PORT", "5432")), "user": get("USER", "postgres"),
            "dbname": get("DATABASE", "test")}


def pg_sql(sql: str) -> None:
    """One statement on the maintenance database, outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(**pg_params(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def missing() -> str | None:
    """Why the storm cannot run here (wrk, redis-server or PostgreSQL missing), or None."""
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        pg_sql("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL does not answer ({exc})"
    return None


class Site:
    """gunicorn with WORKERS sync workers serving the bench app under one settings module."""

    def __init__(self, settings: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
                 "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "20", "--log-level", "info",
                 "django.core.wsgi:get_wsgi_application()"],
                cwd=REPO, env={**env, "DJANGO_SETTINGS_MODULE": settings}, stdout=out, stderr=out,
                start_new_session=True,
            )
        try:
            wait_until(self._answers, 60, "gunicorn")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + HEALTHY_PATH, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def workers(self) -> list[int]:
        """Pids of the master's children (the workers) right now."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def worker_cpu_s(self) -> float | None:
        """CPU seconds (user + system) the current workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        pids = self.workers()
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / ticks if pids else None

    def boots(self) -> int:
        """Worker processes gunicorn has started so far (restarts included)."""
        return self.log.read_text(errors="replace").count("Booting worker")

    def stop(self) -> None:
        stop_process(self.proc)


def machine() -> dict[str, Any]:
    """CPU count and model, load average."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg": list(os.getloadavg()),
            "platform": platform.platform()}
