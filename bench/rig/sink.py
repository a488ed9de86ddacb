"""A local HTTP sink standing in for Sentry's ingest: answers 200 to everything and counts what it got."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.received += 1
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Sink(ThreadingHTTPServer):
    """Start with `with Sink() as sink:`; `sink.dsn` is a Sentry DSN pointing at it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received = 0
        self._thread = threading.Thread(target=self.serve_forever, name="sentry-sink", daemon=True)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a sender that exits mid-request (sentry-sdk at process exit) is not our problem

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"

    def __enter__(self) -> "Sink":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
