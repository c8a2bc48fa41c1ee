"""Benchmark databases for benchmarks/exporter_scale.py: SQLite files and a PostgreSQL cluster.

Everything is generated with set-based SQL (recursive CTEs in SQLite, generate_series in
PostgreSQL): 50M OHLCV rows take minutes, not hours. Built once, cached in benchmarks/.data/.

    .venv/bin/python benchmarks/scale_data.py --sizes 1000000,10000000,50000000
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from exporter import demo_db  # noqa: E402

DATA = REPO / "benchmarks" / ".data"
NOW = 1_795_000_000
COUNTER_ROWS = 1_000_000  # rows in each counter table (collection_runs, api_calls, orders)
MARKETS = demo_db.DEFAULT_MARKETS
NOBODY = 65534


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_top_up(conn: sqlite3.Connection, table: str, insert: str) -> None:
    """Fill `table` up to COUNTER_ROWS rows with a recursive CTE (`insert` uses i = 1..n)."""
    have = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    missing = max(0, COUNTER_ROWS - have)
    if missing:
        conn.execute(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) " + insert,
            (missing,),
        )


def sqlite_database(rows: int) -> Path:
    """demo_db's OHLCV rows plus counter tables topped up to COUNTER_ROWS rows each."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"scale-{rows}.db"
    if path.exists():
        return path
    log(f"building SQLite {path.name}")
    building = DATA / f"scale-{rows}.db.building"
    demo_db.create(str(building), rows, MARKETS, now=NOW)
    conn = sqlite3.connect(building, isolation_level=None)
    conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;")
    as_json = "[" + ",".join(f'"{m}"' for m in MARKETS) + "]"
    pick = f"json_extract('{as_json}', '$[' || (i % {len(MARKETS)}) || ']')"
    _sqlite_top_up(
        conn,
        "collection_runs",
        "INSERT INTO collection_runs (market, source, started_at, finished_at, status, "
        f"rows_written) SELECT {pick}, 'broker_api', {NOW - 7 * 86_400} - i * 60, "
        f"{NOW - 7 * 86_400} - i * 60 + 30, "
        "CASE WHEN i % 25 = 0 THEN 'failed' ELSE 'success' END, i % 5000 FROM s",
    )
    _sqlite_top_up(
        conn,
        "api_calls",
        "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok) "
        f"SELECT {pick}, "
        'json_extract(\'["quotes","ohlcv","orders","account","auth","news"]\', '
        "'$[' || ((i / 7) % 6) || ']'), "
        f"{NOW - 86_400} - i % 86400, 0.005 * (1 + (i * 7919) % 2000), "
        "CASE WHEN i % 33 = 0 THEN 503 ELSE 200 END, CASE WHEN i % 33 = 0 THEN 0 ELSE 1 END "
        "FROM s",
    )
    _sqlite_top_up(
        conn,
        "orders",
        "INSERT INTO orders (market, ticker, side, quantity, price, status, strategy, created_at) "
        f"SELECT {pick}, "
        "'T' || (i % 3000), CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END, 1 + i % 500, 10.0, "
        "CASE WHEN i % 25 = 0 THEN 'rejected' WHEN i % 50 = 1 THEN 'failed' ELSE 'filled' END, "
        f"'momentum', {NOW - 30 * 86_400} + i % 2592000 FROM s",
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    os.replace(building, path)
    return path


# --- PostgreSQL ---------------------------------------------------------------------------------


def _server_binaries() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise SystemExit("PostgreSQL server binaries are not installed (make tools)")
    return Path(candidates[-1]).parent


@dataclass
class Cluster:
    """A PostgreSQL cluster in benchmarks/.data/pg (kept between runs), default work_mem."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return DATA / "pg"

    @property
    def log_path(self) -> Path:
        return DATA / "pg.log"

    def url(self, database: str = "postgres", application: str = "bench") -> str:
        return (
            f"postgresql://postgres@127.0.0.1:{self.port}/{database}?application_name={application}"
        )

    def start(self) -> None:
        bindir = _server_binaries()
        run_as = NOBODY if os.getuid() == 0 else None
        if not (self.datadir / "PG_VERSION").exists():
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.datadir.mkdir(parents=True, mode=0o700)
            if run_as is not None:
                os.chown(self.datadir, run_as, run_as)
            subprocess.run(
                [str(bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust"],
                user=run_as,
                check=True,
                capture_output=True,
                cwd=DATA,
            )
        log_file = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        if run_as is not None:
            os.chown(self.log_path, run_as, run_as)
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.datadir),
            # Build speed only (no effect on the queries measured): no WAL for fresh tables.
            "fsync": "off",
            "synchronous_commit": "off",
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "max_wal_size": "8GB",
            "maintenance_work_mem": "512MB",
            # Every statement's duration, tagged with its session's application_name.
            "log_line_prefix": "%a|%p|",
            "log_min_duration_statement": "-1",
            "lc_messages": "C",
        }
        args = [str(bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        self.process = subprocess.Popen(
            args, user=run_as, stdout=log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=1):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"postgres did not start: {self.log_path}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(2)  # SIGINT: fast shutdown
            self.process.wait(timeout=120)
            self.process = None


PG_SCHEMA = demo_db.postgres_schema()


def postgres_database(cluster: Cluster, rows: int) -> str:
    """Database `scale_ROWS` in the cluster (built once); returns its name."""
    name = f"scale_{rows}"
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            done = True
            with psycopg.connect(cluster.url(name), autocommit=True) as conn:
                done = bool(
                    conn.execute("SELECT 1 FROM pg_class WHERE relname = 'build_done'").fetchone()
                )
            if done:
                return name
            admin.execute(f"DROP DATABASE {name}".encode())
        admin.execute(f"CREATE DATABASE {name}".encode())
    log(f"building PostgreSQL database {name}")
    tickers = demo_db.ticker_count(rows, len(MARKETS))
    per_market = tickers // len(MARKETS)
    missing = max(1, rows // 100_000)
    dual, dual_bars = 3, 10
    normal = rows - missing - dual * dual_bars
    bars = -(-normal // (per_market * len(MARKETS)))
    markets = "ARRAY[" + ",".join(f"'{m}'" for m in MARKETS) + "]"
    with psycopg.connect(cluster.url(name), autocommit=True) as conn:
        conn.execute(PG_SCHEMA.encode())
        started = time.monotonic()
        conn.execute(
            f"""CREATE UNLOGGED TABLE demo_base AS
            SELECT row_number() OVER () AS idx, m AS market,
                   upper(m) || lpad(n::text, 5, '0') AS ticker, 5 + (n * 7919) % 495 AS base
            FROM unnest({markets}) AS m CROSS JOIN generate_series(1, {per_market}) AS n""".encode()
        )
        # Time-major, as a collector appends bars: every ticker's bar b, then bar b + 1.
        conn.execute(
            f"""INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume)
            SELECT t.ticker, t.market, {NOW} - ({bars} - 1 - b) * 60, t.base, t.base * 1.004,
                   t.base * 0.996, t.base * (1 + ((t.idx * 7 + b) % 200 - 100) / 1000.0),
                   100 + (t.idx * 31 + b * 17) % 100000
            FROM generate_series(0, {bars} - 1) AS b CROSS JOIN demo_base AS t
            LIMIT {normal}""".encode()
        )
        conn.execute(
            f"""INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume)
            SELECT 'KR00001', CASE WHEN i % 2 = 0 THEN '' END, {NOW} - i * 60, 1, 1, 1, 1, 0
            FROM generate_series(0, {missing} - 1) AS i""".encode()
        )
        conn.execute(
            f"""INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume)
            SELECT t.ticker, 'us', {NOW} - i * 60, 1, 1, 1, 1, 1000
            FROM (SELECT ticker FROM demo_base WHERE market = 'kr' ORDER BY idx LIMIT {dual}) t
            CROSS JOIN generate_series(0, {dual_bars} - 1) AS i""".encode()
        )
        log(f"  ohlcv rows in {time.monotonic() - started:.0f}s")
        conn.execute(
            "INSERT INTO tickers SELECT ticker, market, 'company ' || ticker, 'USD', "
            f"{NOW - 86_400 * 3650} FROM demo_base".encode()
        )
        conn.execute(
            f"""INSERT INTO collection_runs
              (market, source, started_at, finished_at, status, rows_written)
            SELECT ({markets})[1 + i % 6], 'broker_api', {NOW} - i * 60, {NOW} - i * 60 + 30,
                   CASE WHEN i % 25 = 0 THEN 'failed' WHEN i < 6 THEN 'running'
                        ELSE 'success' END, i % 5000
            FROM generate_series({COUNTER_ROWS}::bigint, 1, -1) AS i""".encode()
        )
        conn.execute(
            f"""INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok)
            SELECT ({markets})[1 + i % 6],
                   (ARRAY['quotes','ohlcv','orders','account','auth','news'])[1 + (i / 7) % 6],
                   {NOW} - i % 86400, 0.005 * (1 + (i * 7919) % 2000),
                   CASE WHEN i % 33 = 0 THEN 503 ELSE 200 END,
                   CASE WHEN i % 33 = 0 THEN 0 ELSE 1 END
            FROM generate_series({COUNTER_ROWS}::bigint, 1, -1) AS i""".encode()
        )
        conn.execute(
            f"""INSERT INTO orders
              (market, ticker, side, quantity, price, status, strategy, created_at)
            SELECT ({markets})[1 + i % 6], 'T' || (i % 3000),
                   CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END, 1 + i % 500, 10.0,
                   CASE WHEN i % 25 = 0 THEN 'rejected' WHEN i % 50 = 1 THEN 'failed'
                        WHEN i < 20 THEN 'new' ELSE 'filled' END,
                   (ARRAY['momentum','pairs','breakout'])[1 + i % 3], {NOW} - i % 2592000
            FROM generate_series({COUNTER_ROWS}::bigint, 1, -1) AS i""".encode()
        )
        conn.execute(
            f"""INSERT INTO api_rate_limits
            SELECT m, e, {NOW} - k * 300, (k * 13) % 60, 60
            FROM unnest({markets}) AS m
            CROSS JOIN unnest(ARRAY['quotes','ohlcv','orders','account','auth']) AS e
            CROSS JOIN generate_series(0, 11) AS k""".encode()
        )
        conn.execute(
            f"""INSERT INTO positions (market, ticker, strategy, quantity, avg_price,
              market_value, position_limit, opened_at, closed_at)
            SELECT ({markets})[1 + i % 6], 'T' || i, 'pairs', 10, 10.0, 100.0 * i, 200.0 * i,
                   {NOW} - 86400, CASE WHEN i % 5 = 0 THEN {NOW} END
            FROM generate_series(1, 150) AS i""".encode()
        )
        conn.execute(
            f"""INSERT INTO strategy_pnl
            SELECT (ARRAY['momentum','pairs','breakout'])[1 + i % 3], {NOW} - i * 600, i % 97 - 40
            FROM generate_series(1, 500) AS i""".encode()
        )
        conn.execute(
            f"""INSERT INTO backups (started_at, finished_at, status, size_bytes, location)
            SELECT {NOW} - d * 86400, {NOW} - d * 86400 + 600, 'success', 1000, 's3://b'
            FROM generate_series(0, 13) AS d""".encode()
        )
        conn.execute(b"DROP TABLE demo_base")
        started = time.monotonic()
        conn.execute(demo_db.OHLCV_INDEX.encode())
        log(f"  index in {time.monotonic() - started:.0f}s")
        conn.execute(b"VACUUM (ANALYZE)")  # visibility map set: index-only scans for the peer
        conn.execute(b"CREATE TABLE build_done (at BIGINT)")
    log(f"  {name} done")
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000,50000000")
    parser.add_argument("--port", type=int, default=0, help="PostgreSQL port (default: free)")
    args = parser.parse_args()
    from tests.live.processes import free_port

    cluster = Cluster(args.port or free_port())
    cluster.start()
    try:
        for rows in (int(s) for s in args.sizes.split(",")):
            postgres_database(cluster, rows)
            sqlite_database(rows)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
