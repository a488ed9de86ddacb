"""HTTP plumbing: a threaded stdlib server on 127.0.0.1 that hands each request to the stand-in."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import urlsplit

from .routes import Response


class Processor(Protocol):
    def process(self, method: str, scheme: str, host: str, target: str, headers, body: bytes) -> Response | None:
        """Answer one request; None means drop the connection without answering."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: StandInServer

    def setup(self):
        super().setup()
        self.server.track(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format, *args):  # the stand-in keeps its own request log
        pass

    def _serve(self):
        body = self._read_body()
        target = self.path
        scheme, host = "http", self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        if "://" in target.split("?", 1)[0]:  # a proxy-style absolute URI (gh with HTTP_PROXY)
            parts = urlsplit(target)
            scheme, host = parts.scheme, parts.netloc
            target = parts.path + ("?" + parts.query if parts.query else "")
        response = self.server.processor.process(self.command, scheme, host, target, self.headers, body)
        if response is None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(response)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():  # gh api --input -
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers up to the blank line
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, response: Response):
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], processor: Processor):
        self.processor = processor
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Close every client connection still open, so their handler threads end."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve_in_thread(processor: Processor, host: str = "127.0.0.1", port: int = 0) -> tuple[StandInServer, threading.Thread]:
    """Bind and serve in a daemon thread; returns the server (its port in `server_address`) and the thread."""
    server = StandInServer((host, port), processor)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name=f"github-standin-{server.server_address[1]}")
    thread.start()
    return server, thread
