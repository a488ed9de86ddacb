"""Fixtures shared by every test layer: fakeredis for capture, real services for integration tests."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import fakeredis
import pytest

pytest_plugins = ["tests.github_standin.fixtures"]

REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true" or os.environ.get("ERRORTRAIL_REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("ERRORTRAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_missing(what: str, detail: str) -> None:
    """Skip (on a developer machine) or fail (under CI) a test whose real service is unreachable."""
    message = f"integration: {what} unreachable ({detail})"
    if REQUIRE_SERVICES:
        pytest.fail(message + "; CI requires it", pytrace=False)
    pytest.skip(message)


def _tcp_open(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return None
    except OSError as exc:
        return f"{parts.hostname}:{parts.port}: {exc}"


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, skip (or under CI fail) everything when PostgreSQL does not answer."""
    if os.environ.get("ERRORTRAIL_TEST_DB") != "postgres":
        return
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        import psycopg

        psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], connect_timeout=3).close()
    except Exception as exc:
        if REQUIRE_SERVICES:
            raise pytest.UsageError(f"integration: PostgreSQL unreachable at {db['HOST']}:{db['PORT']} ({exc}); CI requires it")
        marker = pytest.mark.skip(reason=f"integration: PostgreSQL unreachable at {db['HOST']}:{db['PORT']}")
        for item in items:
            item.add_marker(marker)


@pytest.fixture
def fake_server():
    """A fresh in-memory Redis server."""
    return fakeredis.FakeServer()


@pytest.fixture
def fake_redis(fake_server):
    """A client of the in-memory server (what capture's clients talk to in component tests)."""
    return fakeredis.FakeRedis(server=fake_server)


@pytest.fixture
def capture_env(settings, tmp_path, fake_server, monkeypatch):
    """Capture wired to fakeredis and a per-test spool; returns the settings dict to tweak."""
    from capture import publish

    monkeypatch.setattr(publish, "make_client", lambda *a, **k: fakeredis.FakeRedis(server=fake_server))
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SPOOL_DIR": str(tmp_path / "spool")}
    publish.reset()
    yield settings.ERRORTRAIL
    publish.reset()


@pytest.fixture
def redis_url():
    """The real Redis URL (skips, or fails under CI, when it does not answer)."""
    problem = _tcp_open(REDIS_URL)
    if problem:
        service_missing("Redis", problem)
    return REDIS_URL


@pytest.fixture
def real_redis(redis_url):
    """A client of the real Redis and a unique key prefix, cleaned up after the test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"errortrail-test-{uuid.uuid4().hex[:12]}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# --- capture: round-trip counting, a Redis that hangs, a closed port ---


class RoundTrips:
    """Every round trip capture's Redis clients made: one list of command names per send."""

    HANDSHAKE = {"HELLO", "CLIENT", "SELECT", "AUTH"}

    def __init__(self):
        self.log = []
        self.commands = []  # every non-handshake command with its arguments, as strings

    def record(self, commands):
        commands = [[a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in args] for args in commands]
        if not {args[0].upper().split()[0] for args in commands} <= self.HANDSHAKE:
            self.log.append([args[0].upper() for args in commands])
            self.commands.extend(commands)

    def take(self):
        """The round trips since the last take()."""
        out, self.log = self.log, []
        return out


@pytest.fixture
def capture_site(capture_env, fake_server, monkeypatch):
    """capture_env whose Redis clients record their round trips (`.trips`); `.redis` reads the same server."""
    from types import SimpleNamespace

    from fakeredis._clients._sync import FakeRedisConnection

    from capture import publish

    trips = RoundTrips()

    class CountingConnection(FakeRedisConnection):
        def send_command(self, *args, **kwargs):
            trips.record([args])
            return super().send_command(*args, **kwargs)

        def pack_commands(self, commands):
            trips.record(list(commands))
            return super().pack_commands(commands)

    def make_client(*args, **kwargs):
        return fakeredis.FakeRedis(server=fake_server, connection_class=CountingConnection)

    monkeypatch.setattr(publish, "make_client", make_client)
    return SimpleNamespace(trips=trips, redis=fakeredis.FakeRedis(server=fake_server), server=fake_server, settings=capture_env)


class HangingRedis:
    """A TCP server that accepts connections and never answers, until forward() makes it a proxy to Redis."""

    def __init__(self, upstream=None):
        import threading

        self.upstream = upstream
        self.forwarding = False
        self.sockets = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.accepted = 0
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="hanging-redis", daemon=True)
        self.thread.start()

    def forward(self):
        """From now on, new connections are relayed to the upstream Redis."""
        self.forwarding = True

    def _serve(self):
        import threading

        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.closed.is_set():
                conn.close()
                return
            self.accepted += 1
            self.sockets.append(conn)
            if self.forwarding and self.upstream:
                parts = urlsplit(self.upstream)
                up = socket.create_connection((parts.hostname, parts.port or 6379))
                self.sockets.append(up)
                for a, b in ((conn, up), (up, conn)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed.set()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()  # wakes accept()
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def hanging_redis():
    """A Redis URL whose server accepts but never answers; `.forward()` relays it to the real Redis."""
    server = HangingRedis(upstream=REDIS_URL)
    yield server
    server.close()


@pytest.fixture
def closed_port_url():
    """A Redis URL on a local port nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
