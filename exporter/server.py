"""HTTP endpoints: /metrics, /healthz (process alive), /readyz (database reachable)."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

log = logging.getLogger("exporter")

INDEX = b"""<html><head><title>trading exporter</title></head><body>
<h1>trading exporter</h1>
<p><a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a> <a href="/readyz">/readyz</a></p>
</body></html>
"""


# A connection waits this long for the first byte of a request (keep-alive idle time).
# Prometheus scrapes every 15-60s and reconnects transparently when the server has closed
# an idle connection.
IDLE_TIMEOUT_SECONDS = 30.0
# From its first byte, a request (line, headers and body) must arrive within this deadline, and
# each response must be written within it: a client that trickles bytes cannot hold a thread.
REQUEST_TIMEOUT_SECONDS = 10.0
# Connections open at once (one thread each). At the cap, a new connection takes the slot of
# the connection that has been waiting for a request the longest; only when every connection is
# busy answering is the new one answered 503 and closed.
MAX_CONNECTIONS = 64
MAX_BODY_BYTES = 64 * 1024  # GET/HEAD need no body; a small one is read and discarded
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n"
)


@dataclass
class _Connection:
    sock: socket.socket
    since: float  # when it began waiting for its current request
    busy: bool = False  # a complete request is being answered


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
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.render = render
        self.ready = ready
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}
        self._warned_at = -math.inf
        if ":" in address[0]:
            self.address_family = socket.AF_INET6  # --listen [::]:9188
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on its own thread, making room by dropping the oldest waiter."""
        with self._lock:
            if len(self._open) >= self.max_connections and not self._drop_oldest_waiting():
                self._warn("refusing connections: %d open, all busy", len(self._open))
                _refuse(request)
                self.shutdown_request(request)
                return
            self._open[request] = _Connection(request, time.monotonic())
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)  # the thread never started
            raise

    def _drop_oldest_waiting(self) -> bool:
        """Shut down the connection waiting longest for a request (called under the lock)."""
        waiting = [c for c in self._open.values() if not c.busy]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.since)
        del self._open[oldest.sock]
        self._warn("dropping the oldest idle connections: %d open", self.max_connections)
        # Its thread wakes from recv() with end-of-file and ends. The socket is still open here:
        # its thread closes it only after _forget(), which needs the lock we hold.
        with contextlib.suppress(OSError):
            oldest.sock.shutdown(socket.SHUT_RDWR)
        return True

    def _warn(self, message: str, count: int) -> None:
        if time.monotonic() - self._warned_at > 60:  # at most once a minute
            self._warned_at = time.monotonic()
            log.warning(message, count)

    def _forget(self, request: socket.socket) -> None:
        with self._lock:
            self._open.pop(request, None)

    def mark(self, request: socket.socket, busy: bool) -> None:
        """A connection starts answering a request (busy) or waits for the next one."""
        with self._lock:
            conn = self._open.get(request)
            if conn is not None:
                conn.busy = busy
                if not busy:
                    conn.since = time.monotonic()

    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def waiting_connections(self) -> int:
        """Open connections waiting for a request (the ones a new connection may replace)."""
        with self._lock:
            return sum(not conn.busy for conn in self._open.values())

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            super().finish_request(request, client_address)
        finally:
            self._forget(request)  # before shutdown_request() closes the socket

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or stalls is routine: no traceback on stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])
        else:
            log.exception("serving %s failed", client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS lookup, slow or failing in
        # containers) only to fill server_name; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _DeadlineReader(io.RawIOBase):
    """Socket reads bounded by a deadline that bytes trickling in do not extend."""

    def __init__(self, sock: socket.socket, idle_timeout: float, request_timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self._idle_timeout = idle_timeout
        self._request_timeout = request_timeout
        self._deadline = math.inf
        self._in_request = False

    def expect_request(self) -> None:
        """The next byte starts a request: wait for it at most the idle timeout."""
        self._deadline = time.monotonic() + self._idle_timeout
        self._in_request = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request not complete at its deadline")
        self._sock.settimeout(remaining)
        count = self._sock.recv_into(buffer)
        if count and not self._in_request:
            self._in_request = True  # headers and body must follow within the deadline
            self._deadline = time.monotonic() + self._request_timeout
        return count


class _Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus uses
    # Headers and body leave in one write (flushed after each request), without Nagle's
    # delay: otherwise a keep-alive client can wait ~40 ms for a delayed ACK.
    wbufsize = 256 * 1024
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own file: replaced by one with a request deadline
        self._reader = _DeadlineReader(
            self.connection, self.server.idle_timeout, self.server.request_timeout
        )
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self.server.mark(self.connection, busy=False)
        self._reader.expect_request()
        super().handle_one_request()

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _read_body(self) -> bool:
        """Discard a (small) request body within the request deadline; False when refused."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self.send_error(411, "a body needs Content-Length")
            return False
        raw = self.headers.get("Content-Length", "0").strip()
        length = int(raw) if raw.isdigit() else -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self.send_error(413 if length > 0 else 400, "bad or too large request body")
            return False
        if length and len(self.rfile.read(length)) < length:
            self.close_connection = True  # the client hung up mid-body
            return False
        return True

    def _respond(self, send_body: bool) -> None:
        if not self._read_body():
            return
        self.server.mark(self.connection, busy=True)
        self.connection.settimeout(self.server.request_timeout)  # bounds the response write
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
