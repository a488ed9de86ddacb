"""Dead letters of the projector and bugbot: listed with reasons, filtered, paginated; requeued or discarded."""

from __future__ import annotations

import pytest
import redis

from contracts import codec
from contracts.names import EVENT_FIELD
from projector import conf
from projector.models import ErrorGroup
from tests.bugbot_support.factories import csrf_signal
from tests.webui_support.factories import event, fingerprint, now_ms, project
from tests.webui_support.fixtures import (  # noqa: F401
    bugbot_env, redis_down, staff_client, staff_user, webui_env,
)
from webui import deadletters
from webui.filters import Filters

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def dead(webui_env):
    """A poison entry the real projector dead-lettered, a valid event dead-lettered earlier, a bugbot dead letter."""
    names = conf.names()
    webui_env.xadd(names.errors(0), {EVENT_FIELD: b"\x93garbage"})
    project(webui_env, [event("ok")])
    valid = webui_env.xadd(names.dead(0), {EVENT_FIELD: codec.encode(event("poisoned", cls="csrf", release="r7")),
                                           "reason": "handler failed 3 times: DataError", "id": "5-0",
                                           "stream": names.errors(0)})
    signal = webui_env.xadd(names.signals_dead, {
        EVENT_FIELD: codec.encode(csrf_signal("sig")), "reason": "delivered 6 times without being acknowledged",
        "stream": names.signals, "id": "7-0", "group": "bugbot", "consumer": "b1", "deliveries": 6, "ts": now_ms()})
    return {"valid": valid.decode(), "signal": signal.decode(), "names": names}


def listed(response) -> list[deadletters.DeadLetter]:
    return list(response.context["page"].object_list)


def test_dead_letters_of_every_stream_are_listed_with_their_reason(dead, staff_client):
    response = staff_client.get("/errors/dead/")
    letters = listed(response)
    assert len(letters) == 3
    by_reason = {d.reason.split(":")[0]: d for d in letters}
    assert by_reason["handler failed 3 times"].type == "error.observed"
    assert by_reason["handler failed 3 times"].cls == "csrf"
    assert by_reason["delivered 6 times without being acknowledged"].type == "threshold.crossed"
    poison = [d for d in letters if not d.type][0]
    assert poison.problem and poison.size == 8
    html = response.content.decode()
    assert "6 deliveries" in html and "signals" in html
    assert [d.id for d in letters] == sorted((d.id for d in letters), key=lambda i: tuple(map(int, i.split("-"))),
                                             reverse=True)


@pytest.mark.parametrize("query, count", [
    ("cls=csrf", 2), ("release=r7", 1), ("route=appointments", 1), ("q=DataError", 1), ("range=24h", 3),
])
def test_dead_letter_filters(dead, staff_client, query, count):
    assert len(listed(staff_client.get("/errors/dead/?" + query))) == count


def test_dead_letter_source_filter_and_pagination(dead, staff_client, webui_env):
    names = dead["names"]
    response = staff_client.get("/errors/dead/", {"source": names.signals_dead})
    assert [d.dead_key for d in listed(response)] == [names.signals_dead]
    response = staff_client.get("/errors/dead/?per_page=10&source=" + "nope")
    assert len(listed(response)) == 3
    for i in range(20):
        webui_env.xadd(names.dead(0), {EVENT_FIELD: b"", "reason": f"extra {i}"})
    response = staff_client.get("/errors/dead/?per_page=10&page=3")
    assert response.context["page"].paginator.count == 23 and len(listed(response)) == 3


def test_requeue_puts_the_payload_back_on_its_source_stream(dead, staff_client, webui_env):
    names = dead["names"]
    response = staff_client.post("/errors/dead/requeue/", {
        "dead_key": names.dead(0), "entry_id": dead["valid"], "back": "cls=csrf&page=9&junk=1"}, follow=False)
    assert response.status_code == 302 and response["Location"] == "/errors/dead/?range=all&cls=csrf&page=9"
    assert webui_env.xrange(names.dead(0), dead["valid"], dead["valid"]) == []
    project(webui_env)
    assert ErrorGroup.objects.get(fingerprint=fingerprint("poisoned")).count == 1
    response = staff_client.post("/errors/dead/requeue/", {"dead_key": names.signals_dead, "entry_id": dead["signal"]},
                                 follow=True)
    assert any("back on signals" in m for m in messages_of(response))
    last = webui_env.xrevrange(names.signals, count=1)[0][1]
    assert codec.decode(last[EVENT_FIELD.encode()]).fingerprint == csrf_signal("sig").fingerprint


def test_discard_and_the_outcomes_of_stale_or_empty_entries(dead, staff_client, webui_env):
    names = dead["names"]
    response = staff_client.post("/errors/dead/discard/", {"dead_key": names.signals_dead, "entry_id": dead["signal"]},
                                 follow=True)
    assert any(m == "Discarded." for m in messages_of(response))
    assert webui_env.xlen(names.signals_dead) == 0
    for action in ("discard", "requeue"):
        response = staff_client.post(f"/errors/dead/{action}/", {"dead_key": names.signals_dead,
                                                                  "entry_id": dead["signal"]}, follow=True)
        assert any("is gone" in m for m in messages_of(response))
    empty = webui_env.xadd(names.dead(0), {"reason": "no payload"}).decode()
    response = staff_client.post("/errors/dead/requeue/", {"dead_key": names.dead(0), "entry_id": empty}, follow=True)
    assert any("no payload" in m for m in messages_of(response))


@pytest.mark.parametrize("dead_key, entry_id, why", [
    ("errortrail:known", "1-0", "not a dead-letter stream"), (None, "drop table", "not a stream entry id"),
])
def test_actions_refuse_keys_and_ids_that_are_not_dead_letters(dead, staff_client, webui_env, dead_key, entry_id, why):
    response = staff_client.post("/errors/dead/requeue/", {"dead_key": dead_key or dead["names"].dead(0),
                                                            "entry_id": entry_id}, follow=True)
    assert any(why in m for m in messages_of(response))
    assert webui_env.xlen(dead["names"].dead(0)) == 2


def test_requeue_retries_when_the_dead_letter_stream_changes_meanwhile(dead, webui_env, monkeypatch):
    names = dead["names"]
    calls = []
    original = redis.client.Pipeline.execute

    def racing(self, *args, **kwargs):
        if self.explicit_transaction and len(calls) < 5:
            calls.append(1)
            raise redis.WatchError("changed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", racing)
    assert deadletters.requeue(webui_env, names.dead(0), dead["valid"]) == deadletters.BUSY
    calls.clear()
    calls.extend([1, 1, 1, 1])
    assert deadletters.requeue(webui_env, names.dead(0), dead["valid"]) == deadletters.REQUEUED


def test_dead_letters_with_redis_down_show_the_fault(redis_down, staff_client):
    response = staff_client.get("/errors/dead/")
    assert response.status_code == 200
    assert b"Redis unreachable" in response.content
    response = staff_client.post("/errors/dead/discard/", {"dead_key": conf.names().dead(0), "entry_id": "1-0"},
                                 follow=True)
    assert any("Redis unreachable" in m for m in messages_of(response))


def test_the_scan_is_bounded_and_says_so(dead, webui_env):
    letters, cut = deadletters.read(webui_env, Filters(), None, limit=2)
    assert len(letters) == 2 and cut
    letters, cut = deadletters.read(webui_env, Filters(), None, limit=10)
    assert len(letters) == 3 and not cut


def test_sharded_streams_each_have_their_dead_letters_and_health_row(webui_env, settings, staff_client):
    from webui import health

    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SHARDS": 2}
    names = conf.names()
    assert names.dead(1) != names.dead(0)
    entry = webui_env.xadd(names.dead(1), {EVENT_FIELD: codec.encode(event("s1")), "reason": "r"}).decode()
    assert [s.label for s in health.read().streams] == ["errors shard 0", "errors shard 1", "signals"]
    response = staff_client.get("/errors/dead/")
    assert [d.dead_key for d in listed(response)] == [names.dead(1)]
    assert b"errors shard 1" in response.content
    staff_client.post("/errors/dead/requeue/", {"dead_key": names.dead(1), "entry_id": entry})
    assert webui_env.xlen(names.errors(1)) == 1 and webui_env.xlen(names.errors(0)) == 0
