"""The HTTP server frees idle connections, bounds each request, and caps the open ones."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial

from exporter.server import ExporterHTTPServer, serve_in_thread
from tests.exporter.harness import wait_for

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


@contextmanager
def _server(
    idle_timeout: float,
    max_connections: int = 64,
    request_timeout: float = 10.0,
    render: Callable[[], bytes] = lambda: b"up 1\n",
) -> Iterator[ExporterHTTPServer]:
    server = ExporterHTTPServer(
        ("127.0.0.1", 0),
        render,
        lambda: True,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
        request_timeout=request_timeout,
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


def test_a_trickled_request_is_cut_at_its_deadline_although_bytes_keep_coming() -> None:
    with _server(idle_timeout=5, request_timeout=1.0) as server, ExitStack() as stack:
        conn = _connect(server, stack)
        started = time.monotonic()
        closed_after = None
        for byte in REQUEST * 4:  # far longer than the deadline at one byte per 0.1 s
            try:
                conn.sendall(bytes([byte]))
            except OSError:  # reset by the server
                closed_after = time.monotonic() - started
                break
            time.sleep(0.1)
            conn.setblocking(False)
            try:
                if conn.recv(4096) == b"":
                    closed_after = time.monotonic() - started
                    break
            except BlockingIOError:
                pass
            finally:
                conn.setblocking(True)
        assert closed_after is not None, "the server kept reading the trickled request"
        assert 0.9 <= closed_after < 2.5, closed_after


def test_a_complete_request_with_a_small_body_is_answered_and_the_body_discarded() -> None:
    with _server(idle_timeout=5) as server, ExitStack() as stack:
        conn = _connect(server, stack)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert _response(conn).startswith(b"HTTP/1.1 200")
        conn.sendall(REQUEST)  # the body was not taken for the next request
        assert _response(conn).startswith(b"HTTP/1.1 200")
        big = _connect(server, stack)
        big.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\n")
        assert _response(big).startswith(b"HTTP/1.1 413")
        assert _closed_by_server(big)


def _blocking_render(release: threading.Event, entered: threading.Semaphore) -> bytes:
    entered.release()
    release.wait(10)
    return b"up 1\n"


@contextmanager
def _blocking_server(
    max_connections: int,
) -> Iterator[tuple[ExporterHTTPServer, ExitStack, Callable[[], socket.socket], threading.Event]]:
    """A server whose /metrics blocks until released; `busy()` opens a connection that is
    answering a scrape (not waiting for a request)."""
    release, entered = threading.Event(), threading.Semaphore(0)
    render = partial(_blocking_render, release, entered)
    with (
        _server(idle_timeout=30, max_connections=max_connections, render=render) as server,
        ExitStack() as stack,
    ):

        def busy() -> socket.socket:
            conn = _connect(server, stack)
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
            assert entered.acquire(timeout=5)
            return conn

        try:
            yield server, stack, busy, release
        finally:
            release.set()


def test_at_the_cap_the_oldest_waiting_connection_is_dropped_and_busy_ones_kept() -> None:
    with _blocking_server(max_connections=3) as (server, stack, open_busy, release):
        busy = open_busy()  # answering: not a candidate for dropping
        oldest = _connect(server, stack)
        wait_for(lambda: server.open_connections() == 2, 5, "two open")
        time.sleep(0.05)
        newer = _connect(server, stack)
        wait_for(lambda: server.open_connections() == 3, 5, "three open")
        newest = _connect(server, stack)  # over the cap: `oldest` makes room
        assert _closed_by_server(oldest)
        newest.sendall(REQUEST)
        assert _response(newest).startswith(b"HTTP/1.1 200")
        newer.sendall(REQUEST)
        assert _response(newer).startswith(b"HTTP/1.1 200")
        release.set()
        assert _response(busy).startswith(b"HTTP/1.1 200")


def test_when_every_connection_is_busy_a_new_one_gets_503() -> None:
    with _blocking_server(max_connections=2) as (server, stack, open_busy, release):
        held = [open_busy() for _ in range(2)]
        extra = _connect(server, stack)
        extra.sendall(REQUEST)
        assert _response(extra).startswith(b"HTTP/1.1 503")
        assert _closed_by_server(extra)
        release.set()
        for conn in held:
            assert _response(conn).startswith(b"HTTP/1.1 200")
        # A client has its answer a moment before the server's thread waits again.
        wait_for(lambda: server.waiting_connections() == 2, 5, "both waiting for a request")
        later = _connect(server, stack)  # freed slots serve again
        later.sendall(REQUEST)
        assert _response(later).startswith(b"HTTP/1.1 200")
