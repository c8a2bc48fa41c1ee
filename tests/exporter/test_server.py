"""The HTTP server frees idle keep-alive connections and caps the open ones."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from exporter.server import ExporterHTTPServer, serve_in_thread
from tests.exporter.harness import wait_for

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


@contextmanager
def _server(idle_timeout: float, max_connections: int = 64) -> Iterator[ExporterHTTPServer]:
    server = ExporterHTTPServer(
        ("127.0.0.1", 0),
        lambda: b"up 1\n",
        lambda: True,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
    )
    serve_in_thread(server)
    try:
        yield server
    finally:
        _stop(server)


def _stop(server: ExporterHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def _connect(server: ExporterHTTPServer, stack: ExitStack) -> socket.socket:
    address = ("127.0.0.1", server.server_port)
    return stack.enter_context(socket.create_connection(address, timeout=5))


def _response(conn: socket.socket) -> bytes:
    """One response head and body (Content-Length bodies are tiny here)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _closed_by_server(conn: socket.socket) -> bool:
    conn.settimeout(5)
    return conn.recv(4096) == b""


def test_idle_keep_alive_connections_are_closed_and_their_threads_end() -> None:
    with _server(idle_timeout=0.5) as server, ExitStack() as stack:
        baseline = threading.active_count()
        used = _connect(server, stack)
        used.sendall(REQUEST)
        assert _response(used).startswith(b"HTTP/1.1 200")  # then idle, kept alive
        idle = [_connect(server, stack) for _ in range(3)]  # never send anything
        wait_for(lambda: threading.active_count() == baseline + 4, 5, "4 connection threads")
        for conn in [used, *idle]:
            assert _closed_by_server(conn)
        wait_for(lambda: threading.active_count() == baseline, 5, "threads back to baseline")


def test_connections_over_the_cap_get_503_and_freed_slots_serve_again() -> None:
    with _server(idle_timeout=0.5, max_connections=2) as server, ExitStack() as stack:
        held = [_connect(server, stack) for _ in range(2)]
        extra = _connect(server, stack)
        extra.sendall(REQUEST)
        assert _response(extra).startswith(b"HTTP/1.1 503")
        assert _closed_by_server(extra)
        for conn in held:
            assert _closed_by_server(conn)  # idle timeout frees both slots
        later = _connect(server, stack)
        later.sendall(REQUEST)
        assert _response(later).startswith(b"HTTP/1.1 200")
