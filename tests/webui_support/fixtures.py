"""Fixtures for dashboard tests: Redis (fakeredis) behind the dashboard, bugbot and the projector; users; clients."""

from __future__ import annotations

import fakeredis
import pytest

from tests.bugbot_support.fixtures import bugbot_env  # noqa: F401  (re-exported for test modules)
from tests.projector_support.timings import FAST
from webui.connection import make_client as real_make_client


@pytest.fixture
def webui_env(bugbot_env, settings, fake_server, monkeypatch):  # noqa: F811
    """Dashboard, bugbot and projector on one in-memory Redis (local tracker, eager Celery); yields the client."""
    from webui import connection

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, **FAST}
    monkeypatch.setattr(connection, "make_client", lambda url: fakeredis.FakeRedis(server=fake_server))
    connection.reset()
    yield bugbot_env
    connection.reset()


@pytest.fixture
def redis_down(webui_env, settings, monkeypatch, closed_port_url):
    """The dashboard's and bugbot's Redis on a port nobody listens on (connections are refused)."""
    from bugbot import connection as bugbot_connection
    from webui import connection

    monkeypatch.setattr(connection, "make_client", lambda url: real_make_client(closed_port_url))
    monkeypatch.setattr(bugbot_connection, "make_client", lambda url: real_make_client(closed_port_url))
    connection.reset()
    bugbot_connection.reset()
    yield closed_port_url
    connection.reset()
    bugbot_connection.reset()


@pytest.fixture
def staff_user(django_user_model):
    """A staff member."""
    return django_user_model.objects.create_user("staff", "staff@site.test", "staff-pass-123", is_staff=True)


@pytest.fixture
def plain_user(django_user_model):
    """A signed-in user who is not staff."""
    return django_user_model.objects.create_user("visitor", "visitor@site.test", "visitor-pass-123")


@pytest.fixture
def staff_client(client, staff_user):
    """A test client signed in as staff."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def world(webui_env):
    """A small dashboard world: three patterns projected from events, a known issue, a dead letter."""
    from types import SimpleNamespace

    from bugbot import services
    from contracts.names import EVENT_FIELD
    from projector import conf
    from projector.models import ErrorGroup
    from tests.webui_support.factories import event, fingerprint, now_ms, project

    now = now_ms()
    project(webui_env, [event("crash", ts=now - 1000), event("crash", ts=now - 2000), event("crash", ts=now - 3000),
                        event("form", cls="csrf", ts=now - 1000, path="/appointments/3/book/"),
                        event("lost", cls="not_found", ts=now - 5000, path="/pets/999/")])
    crash = ErrorGroup.objects.get(fingerprint=fingerprint("crash"))
    issue = services.mark_known(crash.fingerprint, "", "We are on it.")
    dead_id = webui_env.xadd(conf.names().dead(0), {EVENT_FIELD: b"\xc1", "reason": "undecodable: test",
                                                     "id": "1-0", "stream": conf.names().errors(0)})
    return SimpleNamespace(redis=webui_env, crash=crash, issue=issue, dead_key=conf.names().dead(0),
                           dead_id=dead_id.decode(), groups=list(ErrorGroup.objects.order_by("id")))
