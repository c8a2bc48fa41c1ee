"""The demo service: HTTP handlers, metrics, injectable faults and the database writer."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

# Milliseconds, as many services expose them (the SLO threshold is converted to this unit).
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500)
SYMBOLS = ("ETH-USD", "BTC-USD")  # a `market` label with another meaning (seed 002)


@dataclass
class Faults:
    """What the service does wrong now; changed through POST /admin/fault when allowed."""

    error_ratio: float = 0.0  # share of /api/quote requests answered with 500
    healthy: bool = True  # /health says "unhealthy" (503) when False
    extra_latency_ms: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "demo_requests",
            "HTTP requests served, by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "demo_errors", "Requests answered with a 5xx.", ["route"], registry=self.registry
        )
        self.latency = Histogram(
            "demo_request_duration_milliseconds",
            "Request latency in milliseconds.",
            ["route"],
            buckets=LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.quotes = Counter(
            "demo_quotes",
            "Quotes served, by instrument (label `market` holds a trading pair, not a market).",
            ["market"],
            registry=self.registry,
        )


class DemoDatabase:
    """Writes to the demo SQLite database (exporter reference schema) as a trading system would."""

    def __init__(self, path: Path, markets: Sequence[str]) -> None:
        self.path = path
        self.markets = tuple(markets)

    def _execute(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with sqlite3.connect(self.path, timeout=10) as conn:
            conn.executemany(sql, rows)

    def write_fresh_rows(self) -> None:
        """One fresh bar per market and one successful collection run per market."""
        now = int(time.time())
        for market in self.markets:
            self._execute(
                "INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume)"
                " SELECT ticker, market, ?, 100, 101, 99, 100, 1000 FROM tickers"
                " WHERE market = ? LIMIT 1",
                [(now, market)],
            )
        self._execute(
            "INSERT INTO collection_runs (market, source, started_at, finished_at, status,"
            " rows_written) VALUES (?, 'demo-service', ?, ?, 'success', 1)",
            [(market, now, now) for market in self.markets],
        )

    def log_api_call(self, market: str, duration_s: float, status: int) -> None:
        self._execute(
            "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok)"
            " VALUES (?, 'quotes', ?, ?, ?, ?)",
            [(market, int(time.time()), duration_s, status, int(status < 500))],
        )


class DemoService:
    def __init__(
        self,
        markets: Sequence[str],
        database: DemoDatabase | None = None,
        allow_faults: bool = False,
    ) -> None:
        self.markets = tuple(markets)
        self.database = database
        self.allow_faults = allow_faults
        self.faults = Faults()
        self.metrics = Metrics()
        self._stop = threading.Event()
        self._random = random.Random(7)

    def quote(self, market: str) -> tuple[int, dict[str, object]]:
        """One API request: status and body, with its metrics and its database row."""
        started = time.perf_counter()
        with self.faults.lock:
            error_ratio, extra = self.faults.error_ratio, self.faults.extra_latency_ms
        base_ms = self._random.uniform(2, 40) + extra
        time.sleep(base_ms / 1000)
        failed = self._random.random() < error_ratio
        status = 500 if failed else 200
        symbol = SYMBOLS[self._random.randrange(len(SYMBOLS))]
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.metrics.requests.labels("/api/quote", str(status)).inc()
        self.metrics.latency.labels("/api/quote").observe(elapsed_ms)
        if failed:
            self.metrics.errors.labels("/api/quote").inc()
        else:
            self.metrics.quotes.labels(symbol).inc()
        if self.database is not None and market in self.markets:
            self.database.log_api_call(market, elapsed_ms / 1000, status)
        if failed:
            return status, {"error": "upstream failure"}
        return status, {"market": market, "symbol": symbol, "price": 100.0}

    def health(self) -> tuple[int, dict[str, object]]:
        with self.faults.lock:
            healthy = self.faults.healthy
        return (200, {"status": "healthy"}) if healthy else (503, {"status": "unhealthy"})

    def set_faults(self, error_ratio: float, healthy: bool, extra_latency_ms: float) -> None:
        with self.faults.lock:
            self.faults.error_ratio = min(max(error_ratio, 0.0), 1.0)
            self.faults.healthy = healthy
            self.faults.extra_latency_ms = max(extra_latency_ms, 0.0)

    # --- Background work ---------------------------------------------------------------------

    def start_background(self, traffic_per_second: float, write_every: float) -> None:
        if traffic_per_second > 0:
            threading.Thread(target=self._traffic, args=(traffic_per_second,), daemon=True).start()
        if self.database is not None and write_every > 0:
            threading.Thread(target=self._writer, args=(write_every,), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _traffic(self, per_second: float) -> None:
        while not self._stop.wait(1 / per_second):
            self.quote(self.markets[self._random.randrange(len(self.markets))])

    def _writer(self, every: float) -> None:
        assert self.database is not None
        while True:
            try:
                self.database.write_fresh_rows()
            except sqlite3.Error as error:  # a busy or missing database: try again next time
                print(f"demo-service: database write failed: {error}", flush=True)
            if self._stop.wait(every):
                return

    # --- HTTP --------------------------------------------------------------------------------

    def handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the metrics tell the story

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, data: dict[str, object]) -> None:
                self._send(status, json.dumps(data).encode(), "application/json")

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/metrics":
                    body = generate_latest(service.metrics.registry)
                    self._send(200, body, CONTENT_TYPE_LATEST)
                elif url.path == "/health":
                    self._json(*service.health())
                elif url.path == "/api/quote":
                    market = parse_qs(url.query).get("market", [service.markets[0]])[0]
                    self._json(*service.quote(market))
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/admin/fault" or not service.allow_faults:
                    self._json(404, {"error": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                service.set_faults(
                    float(data.get("error_ratio", 0.0)),
                    bool(data.get("healthy", True)),
                    float(data.get("extra_latency_ms", 0.0)),
                )
                self._json(200, {"ok": True})

        return Handler

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((host, port), self.handler())
        server.daemon_threads = True
        return server
