"""Fixtures shared by every test layer: fakeredis for capture, real services for integration tests."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import fakeredis
import pytest

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
