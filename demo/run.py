"""`make demo`: a Redis, the database, a staff login, then the site and errortrail's consumers under supervisord."""

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
if __name__ == "__main__":
    sys.path[0] = str(REPO)  # import the demo as the package `demo`, never its folder's modules as top-level ones

from demo import supervise  # noqa: E402
DEMO = REPO / "demo"
MANAGE = DEMO / "manage.py"
SETTINGS = "demo.petclinic.settings"
HOST = "127.0.0.1"
DEMO_USER = "demo"
DEMO_PASSWORD = "paws-and-claws"
REDIS_MODES = ("auto", "url", "redis-server", "fakeredis")
TRAFFIC_MODES = ("first", "always", "never")
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
    stack.callback(supervise.stop, proc, STOP_TIMEOUT_S)
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
    url = f"redis://{HOST}:{server.server_address[1]}/0"
    return RedisChoice(url, "fakeredis in this process; events vanish on exit")


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


def var_directory(environ: dict[str, str]) -> Path:
    """Where the demo keeps its database, spool, logs and supervisord files (DEMO_VAR_DIR, else demo/var)."""
    return Path(environ.get("DEMO_VAR_DIR") or DEMO / "var").resolve()


def site_environment(environ: dict[str, str], redis: RedisChoice, var_dir: Path | None = None) -> dict[str, str]:
    """The environment of every demo process: settings module, the chosen Redis, unbuffered output."""
    env = dict(environ)
    env.update(DJANGO_SETTINGS_MODULE=SETTINGS, ERRORTRAIL_REDIS_URL=redis.url, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), environ.get("PYTHONPATH", "")) if p)
    if var_dir is not None:
        env["DEMO_VAR_DIR"] = str(var_dir)
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


def first_scan(env: dict[str, str]) -> None:
    """One scan before the consumers start: republishes the known map (an in-process Redis starts empty)."""
    manage(env, "scan_errors", quiet=True)


def consumers_beating(redis_url: str, prefix: str) -> bool:
    """Whether run_projector and run_bugbot both have a live heartbeat."""
    import redis

    from contracts.names import Names

    names = Names(prefix=prefix)
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=2)
        try:
            return all(next(client.scan_iter(match=names.heartbeat_pattern(role), count=1000), None)
                       for role in ("projector", "bugbot"))
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def start_traffic(stack: contextlib.ExitStack, env: dict[str, str], port: int) -> subprocess.Popen:
    """demo/traffic.py against the site, in the background (its output goes to this terminal)."""
    proc = subprocess.Popen([sys.executable, str(DEMO / "traffic.py"), "--url", f"http://{HOST}:{port}"], env=env)
    stack.callback(supervise.stop, proc, STOP_TIMEOUT_S)
    return proc


def banner(port: int, login: tuple[str, str], redis: RedisChoice, env: dict[str, str] | None = None) -> str:
    """What a newcomer needs to know, printed once the site answers."""
    env = env or {}
    site = f"http://{HOST}:{port}"
    backend = (env.get("ERRORTRAIL_BUG_BACKEND") or "auto").strip().lower()
    if backend == "auto":  # bugbot's rule: GitHub when both are given
        backend = "github" if env.get("GITHUB_TOKEN") and env.get("GITHUB_REPO") else "local"
    if backend in ("github", "gh"):
        backend += f" ({env.get('GITHUB_REPO', '')})"
    return "\n".join([
        "",
        "Paws & Claws clinic is running (errortrail demo)",
        f"  site          {site}/",
        f"  dashboard     {site}/errors/   (staff only)",
        f"  staff login   {site}/admin/   user {login[0]}  password {login[1]}",
        f"  error pages   {site}/errors/capture/preview/server_error/   (staff; also page_not_found, csrf_failure)",
        f"  try           {site}/pets/4/invoice/ (a bug)   {site}/vets/ (a broken link)   {site}/api/pets/999/",
        f"  traffic       make demo-traffic   (or: python demo/traffic.py --url {site})",
        f"  Redis         {redis.url}   {redis.kind}",
        f"  bug tracker   {backend}",
        f"  processes     site, run_projector, run_bugbot, celery worker + beat under supervisord; "
        f"logs in {env.get('DEMO_VAR_DIR', 'demo/var')}/log/",
        "Press Ctrl-C to stop.",
        "",
    ])


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so both stop everything through the same cleanup."""
    # SIGINT explicitly too: a shell's background job starts with it ignored, and Python then keeps it so.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def ignore_further_interrupts() -> None:
    """While the demo stops, more Ctrl-Cs change nothing (supervisord is already stopping every program)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def parse_args(argv: list[str] | None, environ: dict[str, str]) -> argparse.Namespace:
    """--port (DEMO_PORT, 8000), --redis (DEMO_REDIS: auto, url, redis-server, fakeredis), --traffic (DEMO_TRAFFIC)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(environ.get("DEMO_PORT", "8000")))
    parser.add_argument("--redis", choices=REDIS_MODES, default=environ.get("DEMO_REDIS", "auto"))
    parser.add_argument("--traffic", choices=TRAFFIC_MODES, default=environ.get("DEMO_TRAFFIC", "first"),
                        help="run demo/traffic.py once the site is up: first start only (default), always, never")
    return parser.parse_args(argv)


def wants_traffic(mode: str, var_dir: Path) -> bool:
    """Whether to drive traffic now (mode first: only when it never ran in this var directory)."""
    marker = var_dir / "traffic.started"
    if mode == "never" or (mode == "first" and marker.exists()):
        return False
    marker.touch()
    return True


def run(stack: contextlib.ExitStack, args: argparse.Namespace, environ: dict[str, str]) -> int:
    """Start everything, print the banner, then wait for supervisord (which runs until Ctrl-C)."""
    if port_open(HOST, args.port):
        print(f"Port {args.port} is taken; set DEMO_PORT to another port.", file=sys.stderr)
        return 1
    var_dir = var_directory(environ)
    redis = choose_redis(stack, environ, args.redis)
    env = site_environment(environ, redis, var_dir)
    print("Preparing the database and the staff login…", flush=True)
    migrate(env)
    login = create_staff_user(env)
    first_scan(env)
    conf = supervise.render(var_dir, REPO, HOST, args.port)
    supervisord = supervise.start(conf, env)
    stack.callback(supervise.stop, supervisord)
    alive = lambda: supervisord.poll() is None  # noqa: E731
    if not wait_until(lambda: port_open(HOST, args.port), 60.0, alive=alive):
        print(f"The site did not start on {HOST}:{args.port}; see {var_dir / 'log'}.", file=sys.stderr)
        return 1
    prefix = env.get("ERRORTRAIL_PREFIX") or "errortrail:"
    if not wait_until(lambda: consumers_beating(redis.url, prefix), 60.0, alive=alive):
        print(f"run_projector or run_bugbot did not start; see {var_dir / 'log'}.", file=sys.stderr)
    print(banner(args.port, login, redis, env), flush=True)
    if wants_traffic(args.traffic, var_dir):
        print("First start: sending some traffic (demo/traffic.py) so the dashboard has something to show…",
              flush=True)
        start_traffic(stack, env, args.port)
    return supervisord.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C (or SIGTERM); returns the exit code."""
    environ = dict(os.environ)
    args = parse_args(argv, environ)
    with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        try:
            return run(stack, args, environ)
        except KeyboardInterrupt:
            ignore_further_interrupts()
            print("\nStopping the demo (each process finishes what it holds)…", flush=True)
            return 0
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"The demo could not start: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
