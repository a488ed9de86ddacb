"""The friendly error pages: statuses, links, reference ids, known issues, JSON bodies, DB and Redis down."""

from __future__ import annotations

import orjson
import pytest
from django.test import Client

from capture import publish
from contracts import codec
from contracts import known as known_map
from contracts.known import KnownEntry
from contracts.names import Names

STREAM = "errortrail:errors"
NAMES = Names()
ISSUE = "https://github.com/example/clinic/issues/12"
AWARE = b"We&#x27;re aware of this problem and working on it."


def stream_events(redis):
    return [codec.decode(fields[b"e"]) for _, fields in redis.xrange(STREAM)]


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def csrf_post(path="/appointments/3/book/", **extra):
    return Client(enforce_csrf_checks=True, raise_request_exception=False).post(path, {"note": "x"}, **extra)


PAGES = [
    (lambda c: c.get("/nope/"), 404, b"We can&#x27;t find that page", b"Not Found"),
    (lambda c: c.get("/crash/"), 500, b"Something went wrong on our side, and we&#x27;ve been notified.", b"Server Error (500)"),
    (lambda c: c.get("/denied/"), 403, b"You don&#x27;t have access to this page", b"403 Forbidden"),
    (lambda c: c.get("/suspicious/"), 400, b"That request didn&#x27;t work", b"Bad Request (400)"),
    (lambda c: csrf_post(), 403, b"This form has expired", b"CSRF verification failed"),
]


@pytest.mark.parametrize(("send", "status", "text", "django_text"), PAGES)
def test_friendly_pages_keep_the_status_and_show_the_reference(capture_site, client, send, status, text, django_text):
    response = send(client)
    assert response.status_code == status
    assert response["Content-Type"] == "text/html; charset=utf-8"
    body = response.content
    assert text in body
    assert django_text not in body
    assert b'href="/"' in body and b"Go to the home page" in body
    (event,) = stream_events(capture_site.redis)
    assert f"Reference: <code>{event.id}</code>".encode() in body
    assert response["X-Error-Reference"] == event.id


def test_a_same_site_referer_becomes_the_back_link(capture_site, client):
    response = client.get("/nope/", HTTP_REFERER="http://testserver/pets/7/?tab=notes")
    assert b'<a href="http://testserver/pets/7/?tab=notes">Go back</a>' in response.content


@pytest.mark.parametrize(
    "referer",
    ["https://evil.example/phish", "//evil.example/x", "javascript:alert(1)", "http://testserver.evil.example/", "http://testserver:8080/"],
)
def test_a_foreign_or_unsafe_referer_never_appears(capture_site, client, referer):
    response = client.get("/nope/", HTTP_REFERER=referer)
    assert b"Go back" not in response.content
    assert referer.encode() not in response.content
    assert b"evil" not in response.content and b"javascript" not in response.content and b"8080" not in response.content


def test_no_back_link_for_a_forged_host(capture_site, client):
    response = client.get("/", HTTP_HOST="evil.example", HTTP_REFERER="http://evil.example/")
    assert response.status_code == 400
    assert b"evil.example" not in response.content


def test_the_csrf_page_offers_to_reload_the_form(capture_site):
    response = csrf_post(HTTP_REFERER="http://testserver/appointments/3/")
    assert b'<a class="primary" href="http://testserver/appointments/3/">Reload the form</a>' in response.content
    assert b"Nothing was saved" in response.content


# -- known issues --


def _fingerprint_of(client, path, redis):
    client.get(path)
    fp = stream_events(redis)[-1].fingerprint
    publish.reset()  # a fresh process: its first error page loads the map
    return fp


def test_an_exact_known_issue_is_named_with_its_link(capture_site, client):
    fp = _fingerprint_of(client, "/crash/", capture_site.redis)
    entry = KnownEntry(bug_id="B-012", message="Booking fails for <b>cats</b>.", url=ISSUE, fingerprint=fp)
    known_map.publish(capture_site.redis, NAMES, [entry])
    response = client.get("/crash/?page=2")
    assert response.status_code == 500
    body = response.content
    assert AWARE in body
    assert f'<a href="{ISSUE}" rel="noopener noreferrer">B-012</a>'.encode() in body
    assert b"Booking fails for &lt;b&gt;cats&lt;/b&gt;." in body
    assert b"we&#x27;ve been notified" not in body
    event = stream_events(capture_site.redis)[-1]
    assert event.known_bug == "B-012"
    assert f"Reference: <code>{event.id}</code>".encode() in body


def test_a_pattern_known_issue_covers_every_matching_url(capture_site, client):
    entry = KnownEntry(bug_id="B-007", message="", url=ISSUE, error_type="csrf", glob="/appointments/*")
    known_map.publish(capture_site.redis, NAMES, [entry])
    response = csrf_post("/appointments/3/book/")
    assert AWARE in response.content and b"B-007" in response.content
    other = client.get("/nope/")
    assert b"B-007" not in other.content
    assert [e.known_bug for e in stream_events(capture_site.redis)] == ["B-007", None]


def test_issue_links_can_be_hidden(capture_site, client, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "SHOW_ISSUE_LINKS": False}
    known_map.publish(capture_site.redis, NAMES, [KnownEntry(bug_id="B-003", message="", url=ISSUE, error_type="404", glob="/*")])
    body = client.get("/nope/").content
    assert AWARE in body
    assert b"<strong>B-003</strong>" in body
    assert ISSUE.encode() not in body


@pytest.mark.parametrize("status", ["fixed", "wontfix"])
def test_closed_known_issues_are_not_shown(capture_site, client, status):
    entry = KnownEntry(bug_id="B-004", message="", url=ISSUE, error_type="404", glob="/*", status=status)
    known_map.publish(capture_site.redis, NAMES, [entry])
    body = client.get("/nope/").content
    assert b"B-004" not in body and AWARE not in body
    assert b"We can&#x27;t find that page" in body
    assert stream_events(capture_site.redis)[0].known_bug is None


def test_a_changed_map_is_picked_up_after_the_next_tick(capture_site, client):
    client.get("/nope/")  # loads the (empty) map
    known_map.publish(capture_site.redis, NAMES, [KnownEntry(bug_id="B-009", message="", error_type="404", glob="/*")])
    assert b"B-009" not in client.get("/nope/").content  # its pipeline saw the new version
    publisher = publish.get_publisher()
    assert publisher.known.due()
    capture_site.trips.take()
    publisher.tick()
    assert ["GET"] in capture_site.trips.take()  # one version check, then the reload
    assert b"B-009" in client.get("/nope/").content


# -- JSON --


def test_clients_asking_for_json_get_a_json_body(capture_site, client):
    response = client.get("/nope/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    (event,) = stream_events(capture_site.redis)
    assert orjson.loads(response.content) == {
        "error": {
            "status": 404,
            "code": "page_not_found",
            "title": "We can't find that page",
            "message": "The page may have moved, or the link may be mistyped. Try the home page, or go back to where you were.",
            "reference": event.id,
        }
    }


def test_api_paths_get_json_with_the_known_issue(capture_site, client):
    entry = KnownEntry(bug_id="B-021", message="Pet lookups are down.", url=ISSUE, error_type="404", glob="/api/*")
    known_map.publish(capture_site.redis, NAMES, [entry])
    response = client.get("/api/pets/101/")
    body = orjson.loads(response.content)["error"]
    assert response.status_code == 404
    assert body["known_issue"] == {"bug_id": "B-021", "url": ISSUE, "message": "Pet lookups are down."}
    assert body["message"] == "We're aware of this problem and working on it."


def test_a_browser_preferring_html_gets_html(capture_site, client):
    response = client.get("/nope/", HTTP_ACCEPT="text/html,application/xhtml+xml,application/json;q=0.9")
    assert response["Content-Type"].startswith("text/html")


def test_a_csrf_failure_on_an_api_path_is_json(capture_site):
    response = csrf_post("/api/pets/1/")
    assert response.status_code == 403
    assert orjson.loads(response.content)["error"]["code"] == "csrf_failure"


# -- the site's look, and working with the database and Redis down --


def test_the_base_template_can_be_overridden(capture_site, client, settings):
    settings.ERRORTRAIL = {**settings.ERRORTRAIL, "BASE_TEMPLATE": "site_base.html"}
    body = client.get("/nope/").content
    assert b"<header data-site-header>Pet Clinic</header>" in body
    assert b"We can&#x27;t find that page" in body


def test_pages_render_with_redis_down(capture_site, client):
    capture_site.server.connected = False
    for path, status in (("/nope/", 404), ("/crash/", 500)):
        response = client.get(path)
        assert response.status_code == status
        assert b"Reference: <code>" in response.content
    assert publish.get_publisher().spool.has_files()


def test_a_loaded_known_issue_is_still_shown_with_redis_down(capture_site, client):
    known_map.publish(capture_site.redis, NAMES, [KnownEntry(bug_id="B-005", message="", error_type="404", glob="/*")])
    client.get("/nope/")
    capture_site.server.connected = False
    assert b"B-005" in client.get("/nope/").content


@pytest.mark.django_db
@pytest.mark.backends
def test_pages_render_with_the_database_unreachable(capture_site, django_db_blocker, django_assert_num_queries):
    from django.contrib.auth.models import User

    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_user("vet", password="pw-not-used"))
    with django_assert_num_queries(0), django_db_blocker.block():
        for path, status in (("/nope/", 404), ("/crash/", 500), ("/denied/", 403), ("/suspicious/", 400)):
            response = client.get(path)
            assert response.status_code == status
            assert b"Reference: <code>" in response.content
        assert csrf_post().status_code == 403
    assert len(stream_events(capture_site.redis)) == 5


@pytest.mark.django_db
@pytest.mark.backends
def test_the_user_is_recorded_only_when_the_site_loaded_it(capture_site):
    from django.contrib.auth.models import User

    user = User.objects.create_user("nurse", password="pw-not-used")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    client.get("/crash/")  # never touches request.user
    client.get("/whoami/")  # evaluates request.user
    lazy, loaded = stream_events(capture_site.redis)
    assert (lazy.user_id, lazy.user_name) == (None, None)
    assert (loaded.user_id, loaded.user_name) == (str(user.pk), "nurse")


# -- the staff-only preview --


@pytest.mark.django_db
@pytest.mark.backends
def test_the_preview_is_refused_to_anonymous_and_non_staff_users(capture_site):
    from django.contrib.auth.models import User

    anonymous = Client(raise_request_exception=False)
    assert anonymous.get("/errors/capture/preview/server_error/").status_code == 403
    member = Client(raise_request_exception=False)
    member.force_login(User.objects.create_user("owner", password="pw-not-used"))
    response = member.get("/errors/capture/preview/server_error/")
    assert response.status_code == 403
    assert b"Something went wrong" not in response.content


@pytest.mark.django_db
@pytest.mark.backends
@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("bad_request", b"That request didn&#x27;t work"),
        ("permission_denied", b"You don&#x27;t have access"),
        ("page_not_found", b"We can&#x27;t find that page"),
        ("server_error", b"Something went wrong"),
        ("csrf_failure", b"This form has expired"),
    ],
)
def test_staff_preview_every_page(capture_site, admin_client, kind, text, settings):
    settings.DEBUG = True
    response = admin_client.get(f"/errors/capture/preview/{kind}/")
    assert response.status_code == 200
    assert text in response.content
    known = admin_client.get(f"/errors/capture/preview/{kind}/?known=1")
    assert AWARE in known.content and b"B-001" in known.content
    assert capture_site.redis.exists(STREAM) == 0


@pytest.mark.django_db
@pytest.mark.backends
def test_preview_of_an_unknown_page_is_a_404(capture_site, admin_client):
    assert admin_client.get("/errors/capture/preview/nonsense/").status_code == 404


# -- Django's own pages with DEBUG on, when the handlers are called anyway --


def test_a_malformed_upload_in_debug_gets_djangos_400_and_is_recorded(capture_site, client, settings):
    settings.DEBUG = True
    response = client.post("/crash/form/", b"garbage", content_type="multipart/form-data; boundary=")
    assert response.status_code == 400 and b"Bad Request (400)" in response.content
    assert stream_events(capture_site.redis)[0].cls == "client_error"


def test_handlers_called_directly_in_debug_give_djangos_pages(capture_site, settings, rf):
    from django.http import Http404

    from capture import views

    settings.DEBUG = True
    assert b"Not Found" in views.page_not_found(rf.get("/x/"), Http404()).content
    assert b"Server Error (500)" in views.server_error(rf.get("/x/")).content
    assert b"Bad Request (400)" in views.bad_request(rf.get("/x/")).content
