"""Scrape latency, RSS and refresh time of the exporter vs. a scrape-time-aggregates baseline.

For each size (OHLCV rows) it builds a demo database once (cached in benchmarks/.data/), runs
`python -m exporter serve` as a real process, scrapes /metrics over HTTP (keep-alive, like
Prometheus) while the cached aggregates keep refreshing, and then runs the naive baseline: the
same SQL, executed inside each scrape (the seed exporters' approach). Then, against the same
exporter process, it scrapes for --slow-seconds while --slow-clients hostile clients hold
connections (one request byte every 10 s each, reconnecting 1 s after being dropped).

    .venv/bin/python benchmarks/exporter_scrape.py [--sizes 10000,1000000,10000000]
        [--scrapes 300] [--baseline-scrapes 20] [--refresh-interval 1]
        [--slow-clients 100] [--slow-seconds 25]

Targets: p99 scrape <= 15 ms at every size, >= 50x faster than the baseline at 10M rows,
RSS <= 80 MB; with 100 slow clients, no failed scrape and p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from exporter import demo_db  # noqa: E402
from exporter.collectors import SqlCollector, build_collectors  # noqa: E402
from exporter.config import default_config, with_overrides  # noqa: E402
from exporter.db import parse_target  # noqa: E402
from exporter.layout import SQL_COLLECTORS  # noqa: E402
from exporter.scheduler import serialise  # noqa: E402
from tests.exporter.slow_clients import SlowClients  # noqa: E402

DATA = REPO / "benchmarks" / ".data"


@dataclass
class Result:
    rows: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: float
    peak_rss_mb: float
    refresh_s: float  # slowest SQL collector run (they run in parallel)
    refresh_total_s: float  # sum of the SQL collectors' run times
    baseline_p50_ms: float
    baseline_p99_ms: float
    slow: SlowRun


@dataclass
class SlowRun:
    """Scrapes while hostile slow clients hold connections."""

    scrapes: int
    failed: int  # non-200 answers or connections that failed twice in a row
    reconnects: int  # the scraper's idle keep-alive connection was dropped: reconnected
    p50_ms: float
    p99_ms: float
    max_ms: float
    held: int  # connections the slow clients held at the end
    dropped: int  # slow connections the exporter dropped


def demo_database(rows: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"demo-{rows}.db"
    if not path.exists():
        print(f"building {path.name} ...", file=sys.stderr, flush=True)
        summary = demo_db.create(str(path), rows)
        print(f"  built in {summary.seconds:.1f}s", file=sys.stderr, flush=True)
    return path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _scrape(port: int, count: int, pause: float) -> tuple[list[float], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies, body = [], b""
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, body[:200]
        time.sleep(pause)
    conn.close()
    return latencies, body


def _scrape_for(port: int, seconds: float, pause: float) -> tuple[list[float], int, int]:
    """Keep-alive scrapes for `seconds`; a dropped idle connection is reopened and the scrape
    retried once (as Prometheus' HTTP client does). Returns latencies, failures, reconnects."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    failed = reconnects = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        for attempt in range(2):
            try:
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                reconnects += attempt == 0
                ok = False
        latencies.append((time.perf_counter() - started) * 1000)
        failed += not ok
        time.sleep(pause)
    conn.close()
    return latencies, failed, reconnects


def _samples(body: bytes, name: str) -> dict[str, float]:
    pattern = re.compile(rf'^{name}{{collector="([a-z_]+)"}} (\S+)$', re.M)
    return {m.group(1): float(m.group(2)) for m in pattern.finditer(body.decode())}


def _peak_rss(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure_exporter(
    db: Path, scrapes: int, refresh: float, slow_clients: int, slow_seconds: float
) -> tuple[list[float], float, float, float, float, SlowRun]:
    log = DATA / "exporter-bench.log"
    cmd = [sys.executable, "-m", "exporter", "serve", "--db", str(db), "--listen", "127.0.0.1:0"]
    cmd += ["--refresh-interval", str(refresh), "--timeout", "60"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        port = None
        while port is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"exporter did not start: {log.read_text()}")
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text())
            port = int(found.group(1)) if found else None
            time.sleep(0.05)
        # Wait for every collector's first run (the market calendars need a child process).
        while True:
            _, body = _scrape(port, 1, 0)
            ok = _samples(body, "trading_exporter_collector_success")
            if len(ok) == 7 and all(v == 1 for v in ok.values()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"collectors not ready: {ok}\n{log.read_text()}")
            time.sleep(0.2)
        _scrape(port, 20, 0)  # warm-up
        latencies, body = _scrape(port, scrapes, 0.01)
        durations = _samples(body, "trading_exporter_collector_duration_seconds")
        sql = [durations[c] for c in SQL_COLLECTORS]
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        with SlowClients(port, count=slow_clients, interval=10.0) as slow:
            time.sleep(1)  # every slow client connected
            slow_latencies, failed, reconnects = _scrape_for(port, slow_seconds, 0.01)
            held, dropped = slow.open(), slow.drops
        slow_run = SlowRun(
            len(slow_latencies),
            failed,
            reconnects,
            statistics.median(slow_latencies),
            _percentile(slow_latencies, 0.99),
            max(slow_latencies),
            held,
            dropped,
        )
        return latencies, rss, _peak_rss(proc.pid), max(sql), sum(sql), slow_run
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- the naive baseline: the same collectors, run inside each scrape ------------------------


def naive_serve(db: str, port_file: str) -> None:
    target = parse_target(db)
    config = with_overrides(default_config(), timeout=600)
    collectors = [c for c in build_collectors(config, target) if isinstance(c, SqlCollector)]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        # Same HTTP handling as the exporter (one write, no Nagle): only the SQL timing differs.
        protocol_version = "HTTP/1.1"
        wbufsize = 256 * 1024
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            with lock:
                families = []
                for collector in collectors:
                    families += collector.run(time.monotonic() + 600).families
                body = serialise(families)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]), encoding="ascii")
    server.serve_forever()


def measure_baseline(db: Path, scrapes: int) -> list[float]:
    port_file = DATA / "baseline.port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--naive-serve", str(db), str(port_file)], cwd=REPO
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("baseline server did not start")
            time.sleep(0.05)
        port = int(port_file.read_text())
        _scrape(port, 2, 0)  # warm the page cache the same way the exporter's refresh did
        latencies, _ = _scrape(port, scrapes, 0)
        return latencies
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000,10000000")
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--baseline-scrapes", type=int, default=20)
    parser.add_argument("--refresh-interval", type=float, default=1.0)
    parser.add_argument("--slow-clients", type=int, default=100)
    parser.add_argument("--slow-seconds", type=float, default=25.0)
    parser.add_argument(
        "--naive-serve", nargs=2, metavar=("DB", "PORT_FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.naive_serve:
        naive_serve(*args.naive_serve)
        return 0
    results = []
    for rows in (int(s) for s in args.sizes.split(",")):
        db = demo_database(rows)
        print(f"measuring {rows} rows ...", file=sys.stderr, flush=True)
        latencies, rss, peak, refresh, refresh_total, slow = measure_exporter(
            db, args.scrapes, args.refresh_interval, args.slow_clients, args.slow_seconds
        )
        baseline = measure_baseline(db, args.baseline_scrapes)
        results.append(
            Result(
                rows,
                statistics.median(latencies),
                _percentile(latencies, 0.99),
                max(latencies),
                rss,
                peak,
                refresh,
                refresh_total,
                statistics.median(baseline),
                _percentile(baseline, 0.99),
                slow,
            )
        )
    print(
        f"\nexporter scrape benchmark: {args.scrapes} scrapes per size while refreshing every "
        f"{args.refresh_interval:g}s; baseline {args.baseline_scrapes} scrapes; "
        f"{os.cpu_count()} CPUs\n"
    )
    print(
        "| OHLCV rows | p50 ms | p99 ms | max ms | RSS MB (peak) | refresh s (sum) "
        "| baseline p50 ms | baseline p99 ms | speed-up p50 | speed-up p99 |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.rows:,} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.2f} "
            f"| {r.rss_mb:.1f} ({r.peak_rss_mb:.1f}) | {r.refresh_s:.3f} ({r.refresh_total_s:.3f}) "
            f"| {r.baseline_p50_ms:.1f} | {r.baseline_p99_ms:.1f} "
            f"| {r.baseline_p50_ms / r.p50_ms:.0f}x | {r.baseline_p99_ms / r.p99_ms:.0f}x |"
        )
    print(
        f"\nsame exporter, {args.slow_seconds:g}s of keep-alive scrapes while "
        f"{args.slow_clients} slow clients (one byte every 10 s each) hold connections\n"
    )
    print(
        "| OHLCV rows | quiet p50 ms | quiet p99 ms | scrapes | failed | reconnects "
        "| p50 ms | p99 ms | max ms | slow connections held | dropped |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        w = r.slow
        print(
            f"| {r.rows:,} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {w.scrapes} | {w.failed} "
            f"| {w.reconnects} | {w.p50_ms:.2f} | {w.p99_ms:.2f} | {w.max_ms:.2f} | {w.held} "
            f"| {w.dropped} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
