"""HTTP endpoints: /metrics, /healthz (process alive), /readyz (database reachable)."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

log = logging.getLogger("exporter")

INDEX = b"""<html><head><title>trading exporter</title></head><body>
<h1>trading exporter</h1>
<p><a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a> <a href="/readyz">/readyz</a></p>
</body></html>
"""


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow client never blocks shutdown
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        render: Callable[[], bytes],
        ready: Callable[[], bool],
    ) -> None:
        self.render = render
        self.ready = ready
        if ":" in address[0]:
            self.address_family = socket.AF_INET6  # --listen [::]:9188
        super().__init__(address, _Handler)

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


def serve_in_thread(server: ExporterHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread
