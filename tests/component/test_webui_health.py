"""The pipeline health panel and the JSON API: figures from Redis and the database; Redis down is a shown fault."""

from __future__ import annotations

import json

import orjson
import pytest

from bugbot import loop as bugbot_loop, services
from bugbot.models import Filing, KnownIssue
from contracts.names import EVENT_FIELD
from projector import conf
from tests.webui_support.factories import event, fingerprint, now_ms, project
from tests.webui_support.fixtures import (  # noqa: F401
    bugbot_env, redis_down, staff_client, staff_user, webui_env,
)
from webui import health

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


@pytest.fixture
def busy(webui_env, settings):
    """A pipeline with lag, pending entries, dead letters, heartbeats, drops, a scan with a failed step, filings."""
    names = conf.names()
    projector = project(webui_env, [event("a"), event("b")])
    projector.heartbeat()  # a live projector's heartbeat (run() removed its own on the way out)
    webui_env.xadd(names.errors(0), {EVENT_FIELD: b"new, not yet read"})
    webui_env.xadd(names.dead(0), {EVENT_FIELD: b"", "reason": "x"})
    consumer = bugbot_loop.build(consumer="bugbot-1")
    consumer.ensure_group()
    consumer.heartbeat("running")
    webui_env.xadd(names.signals, {EVENT_FIELD: b"s1"})
    webui_env.xreadgroup("bugbot", "bugbot-1", {names.signals: ">"}, count=1)  # read, not acked: pending
    webui_env.hset(names.drops, mapping={"spool_full": 3, "encode": "junk"})
    webui_env.hset(names.capture_stats, mapping={"spooled": 5, "flushed": 5})
    webui_env.hset(names.scan_state, mapping={"bugbot:last_run_ms": now_ms() - 60_000, "bugbot:last_result": json.dumps(
        {"bugbot.scan.republish": {"result": {"version": 3}},
         "projector.maintenance.prune": {"error": "OperationalError: db"},
         "projector.maintenance.trim_streams": {"missing": "No module named projector.maintenance"}})})
    issue = services.mark_known(fingerprint("held"), "", "")
    KnownIssue.objects.filter(pk=issue.pk).update(filing_state=Filing.HELD)
    return names


def test_health_reads_every_figure(busy):
    h = health.read()
    assert h.ok and not h.fault
    errors, signals = h.streams
    assert (errors.length, errors.lag, errors.pending, errors.dead, errors.has_group) == (3, 1, 0, 1, True)
    assert (signals.length, signals.pending, signals.lag, signals.consumers) == (1, 1, 0, 1)
    assert {b["role"] for b in h.heartbeats} == {"projector", "bugbot"}
    beat = [b for b in h.heartbeats if b["role"] == "projector"][0]
    assert beat["consumer"] == "webui-test" and beat["age_s"] is not None and beat["expires_s"] > 0
    assert "events" in beat["figures"]
    assert h.drops == {"encode": 0, "spool_full": 3} and h.capture == {"flushed": 5, "spooled": 5}
    assert h.filings["held"] == 1 and h.filings_open == {"held": 1}
    assert h.scan["steps"] == 3 and [p["step"] for p in h.scan["problems"]] == [
        "projector.maintenance.prune", "projector.maintenance.trim_streams"]
    assert any("dead letter" in w for w in h.warnings)
    assert any("held by the filing cap" in w for w in h.warnings)
    assert any("2 scan step(s) failed" in w for w in h.warnings)
    assert any("dropped 3" in w for w in h.warnings)
    assert not any("heartbeat" in w for w in h.warnings)


def test_health_panel_on_the_overview(busy, staff_client):
    html = staff_client.get("/errors/").content.decode()
    assert "Pipeline health" in html and "webui-test" in html and "bugbot-1" in html
    assert "spool_full: 3" in html and "OperationalError: db" in html
    assert f'href="/errors/dead/?source={busy.dead(0).replace(":", "%3A")}"' in html
    assert 'href="/errors/known/?filing=held"' in html


def test_an_idle_pipeline_warns_about_missing_consumers_and_scans(webui_env):
    h = health.read()
    assert any("No projector heartbeat" in w for w in h.warnings)
    assert any("No bugbot heartbeat" in w for w in h.warnings)
    assert any("has not run yet" in w for w in h.warnings)
    assert [s.has_group for s in h.streams] == [False, False]
    webui_env.hset(conf.names().scan_state, "bugbot:last_run_ms", now_ms() - 3 * 3_600_000)
    assert any("overdue" in w for w in health.read().warnings)


def test_a_stream_without_the_group_counts_everything_as_lag(webui_env):
    webui_env.xadd(conf.names().errors(0), {EVENT_FIELD: b"x"})
    webui_env.xgroup_create(conf.names().errors(0), "someone-else", id="0")
    errors = health.read().streams[0]
    assert not errors.has_group and errors.lag == 1


def test_unknown_lag_is_worked_out_from_the_newest_entry(webui_env):
    class Pipe:
        def __init__(self, replies):
            self.replies = replies

        def __getattr__(self, name):
            return lambda *a, **k: None

        def execute(self, raise_on_error=True):
            return self.replies.pop(0)

    class Client:
        def __init__(self):
            groups = [{"name": b"projector", "pending": 0, "consumers": 1, "last-delivered-id": b"5-0", "lag": None}]
            self.replies = [[4, groups, 0, 0, [], 0, {}, {}, {}], [[(b"9-0", {})]]]

        def pipeline(self, transaction=False):
            return Pipe(self.replies)

        def scan_iter(self, match, count):
            return iter(())

    h = health.Health()
    health.read_redis(h, Client(), now_ms())
    assert h.streams[0].lag == 1 and h.streams[1].has_group is False


def test_heartbeats_and_scan_state_tolerate_garbage():
    beat = health.heartbeat({b"role": b"bugbot", b"ts": b"soon"}, -1, now_ms())
    assert beat["age_s"] is None and beat["expires_s"] is None and beat["consumer"] == "?"
    assert health.scan_state({b"bugbot:last_run_ms": b"x", b"bugbot:last_result": b"{"}) == {
        "last_run_ms": None, "problems": [], "steps": 0}


def test_redis_down_is_a_fault_on_the_panel_not_an_error(redis_down, staff_client):
    response = staff_client.get("/errors/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Fault:" in html and "Redis unreachable" in html
    data = orjson.loads(staff_client.get("/errors/api/health/").content)
    assert data["health"]["ok"] is False and "Redis unreachable" in data["health"]["fault"]
    assert data["health"]["streams"] == []
    response = staff_client.get("/errors/known/")
    assert response.status_code == 200 and b"Page views are unavailable" in response.content


def test_redis_down_on_the_pattern_page_of_a_known_issue(redis_down, staff_client):
    from tests.webui_support.factories import group_row

    group = group_row("p")
    services.mark_known(group.fingerprint, "", "")
    response = staff_client.get(f"/errors/patterns/{group.fingerprint}/")
    assert response.status_code == 200 and b"page views unavailable" in response.content


def test_api_series_top_and_health(busy, staff_client, settings):
    settings.TIME_ZONE = "Europe/Paris"
    response = staff_client.get("/errors/api/series/?range=7d")
    assert response["Content-Type"] == "application/json"
    data = orjson.loads(response.content)
    assert data["version"] == 1 and data["range"] == "7d" and data["step"] == "day"
    assert data["timezone"] == "Europe/Paris" and len(data["buckets"]) == 7
    assert data["buckets"][0].endswith(("+01:00", "+02:00"))
    assert data["series"]["app_error"][-1] == 2 and data["total"] == 2
    data = orjson.loads(staff_client.get("/errors/api/top/?limit=1").content)
    assert len(data["patterns"]) == 1
    top = data["patterns"][0]
    assert top["count_in_range"] == 1 and top["class"] == "app_error" and top["known_issue"] is None
    assert top["url"] == f"http://testserver/errors/patterns/{top['fingerprint']}/"
    services.mark_known(top["fingerprint"], "", "")
    data = orjson.loads(staff_client.get("/errors/api/top/?limit=x").content)
    assert len(data["patterns"]) == 2
    assert [p["known_issue"] for p in data["patterns"] if p["fingerprint"] == top["fingerprint"]][0]["bug_id"]
    data = orjson.loads(staff_client.get("/errors/api/health/").content)["health"]
    assert data["ok"] and data["streams"][0]["dead"] == 1 and data["filings"]["held"] == 1
