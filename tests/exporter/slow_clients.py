"""Hostile HTTP clients that hold connections by sending one request byte every few seconds.

Used by the exporter's fault test and by benchmarks/exporter_scrape.py. Each client reconnects
(after `reconnect_delay`) when the server drops it, so the pressure never lets up.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: slow\r\nUser-Agent: slowloris\r\n\r\n"


@dataclass
class _Client:
    sock: socket.socket | None = None
    sent: int = 0
    next_send: float = 0.0
    reconnect_at: float = 0.0


@dataclass
class SlowClients:
    port: int
    count: int = 100
    interval: float = 10.0  # seconds between two bytes of one client
    reconnect_delay: float = 1.0
    connects: int = 0
    drops: int = 0  # connections the server closed (or answered)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def __enter__(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def open(self) -> int:
        """Connections currently held."""
        return self.connects - self.drops

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        clients = [_Client() for _ in range(self.count)]
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for client in clients:
                    if client.sock is None and now >= client.reconnect_at:
                        self._connect(client, selector, now)
                    elif client.sock is not None and now >= client.next_send:
                        self._send_byte(client, selector, now)
                for key, _ in selector.select(timeout=0.05):
                    self._drop(key.data, selector)
        finally:
            for client in clients:
                if client.sock is not None:
                    client.sock.close()
            selector.close()

    def _connect(self, client: _Client, selector: selectors.BaseSelector, now: float) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            client.reconnect_at = now + self.reconnect_delay
            return
        sock.setblocking(False)
        client.sock, client.sent, client.next_send = sock, 0, now
        selector.register(sock, selectors.EVENT_READ, client)
        self.connects += 1
        self._send_byte(client, selector, now)

    def _send_byte(self, client: _Client, selector: selectors.BaseSelector, now: float) -> None:
        assert client.sock is not None
        try:
            offset = client.sent % len(_REQUEST)
            client.sock.send(_REQUEST[offset : offset + 1])
        except OSError:
            self._drop(client, selector)
            return
        client.sent += 1
        client.next_send = now + self.interval

    def _drop(self, client: _Client, selector: selectors.BaseSelector) -> None:
        """The server answered or closed the connection: hang up, reconnect later."""
        if client.sock is None:
            return
        selector.unregister(client.sock)
        client.sock.close()
        client.sock = None
        client.reconnect_at = time.monotonic() + self.reconnect_delay
        self.drops += 1
