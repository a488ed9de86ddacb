"""`make demo`: migrate, a staff login, a Redis (yours, a local redis-server, or an in-process one), the site."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
MANAGE = DEMO / "manage.py"
SETTINGS = "demo.petclinic.settings"
HOST = "127.0.0.1"
DEMO_USER = "demo"
DEMO_PASSWORD = "paws-and-claws"
REDIS_MODES = ("auto", "url", "redis-server", "fakeredis")
STOP_TIMEOUT_S = 10.0


@dataclass
class RedisChoice:
    """The Redis every demo process talks to, and what it is."""

    url: str
    kind: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def redis_answers(url: str, timeout_s: float = 0.5) -> bool:
    """Whether a Redis at `url` answers PING."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                      retry=Retry(NoBackoff(), 0))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def wait_until(ready: Callable[[], bool], timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll `ready` until it is true, `alive` turns false, or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return ready()


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
    """SIGTERM, wait, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def start_redis_server(stack: contextlib.ExitStack) -> RedisChoice | None:
    """A throwaway redis-server from the PATH on a free port, without persistence; None if there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )
    stack.callback(stop_process, proc)
    url = f"redis://{HOST}:{port}/0"
    if not wait_until(lambda: redis_answers(url), 10.0, alive=lambda: proc.poll() is None):
        return None
    return RedisChoice(url, f"redis-server started on port {port}; stopped on exit")


def start_fakeredis(stack: contextlib.ExitStack, port: int = 0) -> RedisChoice:
    """fakeredis's TCP server in a thread of this process, shared by every demo process."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer((HOST, port), server_version=(7, 0))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT_S)

    stack.callback(stop)
    return RedisChoice(f"redis://{HOST}:{server.server_address[1]}/0", "fakeredis in this process; events vanish on exit")


def configured_redis_url(environ: dict[str, str]) -> str | None:
    """ERRORTRAIL_REDIS_URL, else REDIS_URL, else None."""
    return environ.get("ERRORTRAIL_REDIS_URL") or environ.get("REDIS_URL") or None


def choose_redis(stack: contextlib.ExitStack, environ: dict[str, str], mode: str = "auto") -> RedisChoice:
    """The configured Redis if it answers, else a local redis-server, else fakeredis (`mode` forces one)."""
    if mode not in REDIS_MODES:
        raise ValueError(f"unknown Redis mode {mode!r}; use one of {', '.join(REDIS_MODES)}")
    url = configured_redis_url(environ)
    if mode in ("auto", "url") and url:
        if redis_answers(url):
            return RedisChoice(url, "from the environment")
        if mode == "url":
            raise RuntimeError(f"the Redis at {url} does not answer")
        print(f"  (the Redis at {url} does not answer; starting one for the demo)", flush=True)
    elif mode == "url":
        raise RuntimeError("DEMO_REDIS=url needs ERRORTRAIL_REDIS_URL or REDIS_URL")
    if mode in ("auto", "redis-server"):
        choice = start_redis_server(stack)
        if choice is not None:
            return choice
        if mode == "redis-server":
            raise RuntimeError("no working redis-server on the PATH")
    return start_fakeredis(stack)


def site_environment(environ: dict[str, str], redis: RedisChoice) -> dict[str, str]:
    """The environment of every demo process: settings module, the chosen Redis, unbuffered output."""
    env = dict(environ)
    env.update(DJANGO_SETTINGS_MODULE=SETTINGS, ERRORTRAIL_REDIS_URL=redis.url, PYTHONUNBUFFERED="1")
    env.setdefault("PYTHONPATH", str(REPO))
    return env


def manage(env: dict[str, str], *args: str, quiet: bool = False) -> None:
    """Run one manage.py command to completion (raises CalledProcessError on failure)."""
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([sys.executable, str(MANAGE), *args], env=env, check=True, stdout=out)


def migrate(env: dict[str, str]) -> None:
    """Create or update the database."""
    manage(env, "migrate", "--noinput", "-v", "0")


def create_staff_user(env: dict[str, str]) -> tuple[str, str]:
    """The demo's staff login (created or reset)."""
    username = env.get("DEMO_USER", DEMO_USER)
    password = env.get("DEMO_PASSWORD", DEMO_PASSWORD)
    manage(env, "demo_user", "--username", username, "--password", password, quiet=True)
    return username, password


def start_site(stack: contextlib.ExitStack, env: dict[str, str], port: int) -> subprocess.Popen:
    """Django's development server (no autoreload; static files served even with DEBUG off)."""
    proc = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", "--insecure", f"{HOST}:{port}"], env=env,
    )
    stack.callback(stop_process, proc)
    return proc


def banner(port: int, login: tuple[str, str], redis: RedisChoice) -> str:
    """What a newcomer needs to know, printed once the site answers."""
    site = f"http://{HOST}:{port}"
    return "\n".join([
        "",
        "Paws & Claws clinic is running (errortrail demo)",
        f"  site          {site}/",
        f"  staff login   {site}/admin/   user {login[0]}  password {login[1]}",
        f"  error pages   {site}/errors/capture/preview/server_error/   (staff; also page_not_found, csrf_failure)",
        f"  try           {site}/pets/4/invoice/ (a bug)   {site}/vets/ (a broken link)   {site}/api/pets/999/",
        f"  Redis         {redis.url}   {redis.kind}",
        "Press Ctrl-C to stop.",
        "",
    ])


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so both stop everything through the same cleanup."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv: list[str] | None, environ: dict[str, str]) -> argparse.Namespace:
    """--port (DEMO_PORT, 8000) and --redis (DEMO_REDIS: auto, url, redis-server, fakeredis)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(environ.get("DEMO_PORT", "8000")))
    parser.add_argument("--redis", choices=REDIS_MODES, default=environ.get("DEMO_REDIS", "auto"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C (or SIGTERM); returns the exit code."""
    environ = dict(os.environ)
    args = parse_args(argv, environ)
    with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        try:
            redis = choose_redis(stack, environ, args.redis)
            env = site_environment(environ, redis)
            migrate(env)
            login = create_staff_user(env)
            if port_open(HOST, args.port):
                print(f"Port {args.port} is taken; set DEMO_PORT to another port.", file=sys.stderr)
                return 1
            site = start_site(stack, env, args.port)
            if not wait_until(lambda: port_open(HOST, args.port), 60.0, alive=lambda: site.poll() is None):
                print(f"The site did not start on {HOST}:{args.port}.", file=sys.stderr)
                return 1
            print(banner(args.port, login, redis), flush=True)
            return site.wait()
        except KeyboardInterrupt:
            print("\nStopping the demo…", flush=True)
            return 0
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"The demo could not start: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
