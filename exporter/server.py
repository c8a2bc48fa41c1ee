"""HTTP endpoints: /metrics, /healthz (process alive), /readyz (database reachable)."""

from __future__ import annotations

import logging
import math
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

log = logging.getLogger("exporter")

INDEX = b"""<html><head><title>trading exporter</title></head><body>
<h1>trading exporter</h1>
<p><a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a> <a href="/readyz">/readyz</a></p>
</body></html>
"""


# A keep-alive connection idle this long is closed (and its thread ends). Prometheus scrapes
# every 15-60s and reconnects transparently when the server has closed an idle connection.
IDLE_TIMEOUT_SECONDS = 30.0
# Connections served at once (one thread each); more are answered 503 and closed at once.
MAX_CONNECTIONS = 64
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n"
)


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow client never blocks shutdown
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        render: Callable[[], bytes],
        ready: Callable[[], bool],
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.render = render
        self.ready = ready
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._refused_logged_at = -math.inf
        if ":" in address[0]:
            self.address_family = socket.AF_INET6  # --listen [::]:9188
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on its own thread, or refuse it when every slot is taken."""
        if not self._slots.acquire(blocking=False):
            if time.monotonic() - self._refused_logged_at > 60:  # at most once a minute
                self._refused_logged_at = time.monotonic()
                log.warning("refusing connections: %d already open", self.max_connections)
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()  # the thread never started
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or stalls is routine: no traceback on stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])
        else:
            log.exception("serving %s failed", client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS lookup, slow or failing in
        # containers) only to fill server_name; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus uses
    # Headers and body leave in one write (flushed after each request), without Nagle's
    # delay: otherwise a keep-alive client can wait ~40 ms for a delayed ACK.
    wbufsize = 256 * 1024
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        # Reads (and writes) wait at most this long: an idle keep-alive connection times out,
        # handle_one_request() closes it and the thread ends.
        self.connection.settimeout(self.server.idle_timeout)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body = self.server.render()
            except Exception:  # never let a rendering bug take the endpoint down
                log.exception("rendering /metrics failed")
                self._send(500, b"internal error rendering metrics\n", "text/plain", send_body)
                return
            self._send(200, body, CONTENT_TYPE_PLAIN_0_0_4, send_body)
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8", send_body)
        elif path == "/readyz":
            if self.server.ready():
                self._send(200, b"ready\n", "text/plain; charset=utf-8", send_body)
            else:
                body = b"database unreachable\n"
                self._send(503, body, "text/plain; charset=utf-8", send_body)
        elif path == "/":
            self._send(200, INDEX, "text/html; charset=utf-8", send_body)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8", send_body)

    def _send(self, code: int, body: bytes, content_type: str, send_body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _refuse(request: socket.socket) -> None:
    """A best-effort 503 that never blocks the accepting thread."""
    try:
        request.setblocking(False)
        request.send(_BUSY)
    except OSError:
        pass


def serve_in_thread(server: ExporterHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread
