"""Private Redis and PostgreSQL instances for one test module: stopped and restarted at will, nobody else's."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

import psycopg
import redis

from tests.e2e.procs.proc import Proc, free_port, run, wait_for

PG_BIN = Path(os.environ.get("ERRORTRAIL_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = os.environ.get("ERRORTRAIL_REDIS_SERVER", "redis-server")
PG_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
DATABASE = "errortrail"
AOF_DIR = "aof"


def missing_binaries() -> str | None:
    """What is missing to run private services here (None: everything is there)."""
    if not shutil.which(REDIS_SERVER):
        return f"{REDIS_SERVER} not found"
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} not found"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no postgres user to run PostgreSQL as"
        if not shutil.which("runuser"):
            return "runuser not found"
    return None


class RedisServer:
    """redis-server on a free loopback port that loses everything on a restart, as one without persistence does.

    It writes an append-only file, but only as a flight recorder of the commands it executed: stop() moves the
    file away, so the next start() begins empty. The tests read the record to know which entries died with it.
    """

    def __init__(self, workdir: Path, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.records = 0
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                "--appendfsync", "no", "--appenddirname", AOF_DIR, "--aof-use-rdb-preamble", "no",
                "--auto-aof-rewrite-percentage", "0", "--dir", str(workdir), "--protected-mode", "no",
                "--daemonize", "no"]
        self.proc = Proc("redis", argv, dict(os.environ), workdir, log_dir)

    def client(self) -> redis.Redis:
        """A fresh client with short timeouts."""
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=1)

    def start(self) -> None:
        """Start (empty) and wait until it answers PING."""
        self.proc.start()

        def ping() -> bool:
            with self.client() as client:
                return bool(client.ping())

        wait_for(ping, 30, f"redis on port {self.port}", detail=self.proc.tail)

    def stop(self) -> Path | None:
        """Shut it down (SIGTERM) and forget its data; returns the directory of its record of commands."""
        self.proc.stop()
        record = self.workdir / AOF_DIR
        if not record.exists():
            return None
        self.records += 1
        kept = self.workdir / f"record-{self.records}"
        record.rename(kept)
        return kept


class PostgresCluster:
    """A PostgreSQL cluster made with initdb in a temporary directory, run as the postgres user when we are root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="errortrail-e2e-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log_path = self.root / "postgres.log"
        self.sockets.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.running = False

    def _ctl(self, *args: str) -> str:
        return run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args], user=self.user, timeout_s=120)

    def init(self) -> None:
        """initdb with trust authentication, then start and create the errortrail database."""
        run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
             "-E", "UTF8", "--locale=C"], user=self.user, timeout_s=180)
        self.start()
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def dsn(self, dbname: str = DATABASE) -> str:
        """A libpq connection string over TCP."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=3"

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 {PG_OPTIONS}"
        self._ctl("-l", str(self.log_path), "-o", options, "-w", "-t", "120", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop (fast: disconnect clients, shut down cleanly)."""
        self._ctl("-m", mode, "-w", "-t", "120", "stop")
        self.running = False

    def answers(self) -> bool:
        """Whether a connection succeeds now."""
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def destroy(self) -> None:
        """Stop whatever runs (immediately, then by pid) and remove the cluster."""
        try:
            self._ctl("-m", "immediate", "-w", "-t", "30", "stop")
        except Exception:
            pid_file = self.data / "postmaster.pid"
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def tail(self, lines: int = 30) -> str:
        """The end of the server log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
