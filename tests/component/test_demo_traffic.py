"""demo/traffic.py against a stand-in of the demo site (a real HTTP server on 127.0.0.1 recording each request)."""

from __future__ import annotations

import http.server
import threading

import pytest

from demo import run, traffic


class StandIn(http.server.ThreadingHTTPServer):
    """Answers like the demo site; the invoice page turns "aware" after `aware_after` invoice requests."""

    def __init__(self, aware_after: int | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.aware_after = aware_after
        self.seen: list[tuple[str, str, dict]] = []
        self.invoices = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        server: StandIn = self.server  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with server.lock:
            server.seen.append((self.command, self.path, dict(self.headers)))
            if self.path == traffic.BUGGY_PATH:
                server.invoices += 1
            invoices = server.invoices
        if self.path == "/":
            status, body = 200, "home"
        elif self.path == traffic.BUGGY_PATH:
            aware = server.aware_after is not None and invoices > server.aware_after
            status, body = 500, ("We&#x27;re aware of this problem. Tracked as B-001." if aware
                                 else "Something went wrong")
        elif self.command == "POST":
            status, body = 403, "This form has expired"
        else:
            status, body = 404, "not found"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Set-Cookie", "csrftoken=abc; Path=/")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


@pytest.fixture
def stand_in(request):
    server = StandIn(request.param)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(traffic, "POLL_S", 0.01)


@pytest.mark.parametrize("stand_in", [4], indirect=True)
def test_drive_sends_each_kind_of_traffic_and_waits_for_the_known_page(stand_in, capsys):
    assert traffic.main(["--url", stand_in.url, "--threshold", "3", "--wait", "30"]) == 0
    seen = [(method, path) for method, path, _ in stand_in.seen if path != "/"]
    invoice_hits = [i for i, (_, path) in enumerate(seen) if path == traffic.BUGGY_PATH]
    assert invoice_hits == list(range(len(invoice_hits))) and len(invoice_hits) >= 4  # first: the bug, then polls
    rest = seen[len(invoice_hits):]
    assert rest[:3] == [("POST", traffic.BOOKING_PATH)] * 3
    assert rest[3:6] == [("GET", traffic.BROKEN_LINK)] * 3
    assert [path for _, path in rest[6:6 + len(traffic.SCANNER_PATHS)]] == list(traffic.SCANNER_PATHS)
    by_path = {path: headers for _, path, headers in stand_in.seen}
    assert "Cookie" not in by_path[traffic.BOOKING_PATH]  # a client that never got its CSRF cookie
    assert by_path[traffic.BROKEN_LINK]["Referer"] == f"{stand_in.url}/"  # same-site: a broken internal link
    assert by_path["/wp-login.php"]["User-Agent"] == traffic.SCANNER_AGENT
    out = capsys.readouterr().out
    assert "names B-001" in out and "(500 x3)" in out and "(403 x3)" in out and "[traffic] done" in out


@pytest.mark.parametrize("stand_in", [None], indirect=True)
def test_drive_says_so_when_the_bug_is_never_filed(stand_in, capsys):
    assert traffic.main(["--url", stand_in.url, "--threshold", "2", "--wait", "0.2"]) == 1
    out = capsys.readouterr().out
    assert "are run_projector and run_bugbot running?" in out and "[traffic] done" in out


def test_drive_gives_up_on_a_site_that_does_not_answer(capsys):
    closed = f"http://127.0.0.1:{run.free_port()}"
    assert traffic.main(["--url", closed, "--wait", "0.1"]) == 2
    assert "does not answer" in capsys.readouterr().out
    assert traffic.known_bug(traffic.Site(closed)) is None


def test_site_urls_and_defaults():
    with pytest.raises(ValueError):
        traffic.Site("https://example.com")
    assert traffic.Site("http://127.0.0.1:8123/").url == "http://127.0.0.1:8123"
    assert traffic.default_url({}) == "http://127.0.0.1:8000"
    assert traffic.default_url({"DEMO_PORT": "9000"}) == "http://127.0.0.1:9000"
    assert traffic.default_url({"DEMO_URL": "http://x:1", "DEMO_PORT": "9000"}) == "http://x:1"
    responses = [traffic.Response(404, ""), traffic.Response(500, ""), traffic.Response(404, "")]
    assert traffic.statuses(responses) == "404 x2, 500 x1"
