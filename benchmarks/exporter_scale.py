"""Database work per refresh at warehouse scale: the exporter's incremental collectors against
full-scan SQL, on SQLite and PostgreSQL, with OHLCV tables of 1M, 10M and 50M rows.

For each size (databases built once by benchmarks/scale_data.py, cached in benchmarks/.data/)
it runs cycles that each add rows (10k OHLCV rows, 1k rows in each counter table, 10 % of the
bars backfilled with old timestamps), then, alternating in the same cycle:

- **ours**: the exporter's SQL collectors (`exporter.collectors.build_collectors`, default
  config, one kept-open connection each), one run each;
- **peer** on PostgreSQL: Debian's `prometheus-sql-exporter` 0.4.5 (justwatchcom) running the
  exporter's default SQL byte for byte, one job per collector; started for each cycle (it runs
  every job at start), stopped once all its statements have finished;
- **full scan** on SQLite (the peer has no SQLite driver): the same default SQL, run whole in
  process, as the exporter did before the tallies.

Per collector it reports the database time per cycle (PostgreSQL: the sum of the statement
durations PostgreSQL logs for that collector's `application_name`; SQLite: the run's wall
time in process), PostgreSQL's CPU per cycle (the backend process's `/proc/PID/schedstat`),
PostgreSQL temp-file bytes, and the first full count (ours: the first run, chunked).

    .venv/bin/python benchmarks/exporter_scale.py [--sizes 1000000,10000000,50000000]
        [--cycles 10] [--peer-cycles 3] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from exporter import demo_db  # noqa: E402
from exporter.collectors import SqlCollector, build_collectors  # noqa: E402
from exporter.config import ExporterConfig, parse_config  # noqa: E402
from exporter.db import APPLICATION_NAME, parse_target  # noqa: E402
from exporter.layout import SQL_COLLECTORS  # noqa: E402
from exporter.queries import default_query  # noqa: E402

DATA = REPO / "benchmarks" / ".data"
OHLCV_PER_CYCLE = 10_000
COUNTER_ROWS_PER_CYCLE = 1_000
PEER = "prometheus-sql-exporter"
PEER_APP = "peer"
TIMEOUT = 3600.0


@dataclass
class Figures:
    """Per collector: samples of one measurement."""

    db_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    temp_bytes: list[float] = field(default_factory=list)
    first_s: dict[str, float] = field(default_factory=dict)


@dataclass
class SizeResult:
    engine: str
    rows: int
    ours: Figures
    other: Figures  # the peer (PostgreSQL) or the full-scan SQL (SQLite)


# --- the databases, built once with set-based SQL (50M OHLCV rows in minutes) ---------------

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


# --- workload -----------------------------------------------------------------------------------


def _append_sql(cycle: int, dialect: str) -> list[str]:
    """Set-based inserts for one cycle: new and backfilled bars, counter rows."""
    ts = NOW + cycle * 60
    series = (
        "generate_series(0, {n} - 1) AS g(i)"
        if dialect == "postgresql"
        else "(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n} - 1) "
        "SELECT i FROM s) AS g"
    )
    markets = [f"'{m}'" for m in MARKETS]
    market = "CASE i % 6 " + " ".join(f"WHEN {k} THEN {m}" for k, m in enumerate(markets)) + " END"
    ticker = f"upper({market}) || '0' || (1000 + i % 3000)"
    bars = series.format(n=OHLCV_PER_CYCLE)
    counters = series.format(n=COUNTER_ROWS_PER_CYCLE)
    return [
        "INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume) "
        f"SELECT {ticker}, {market}, CASE WHEN i % 10 = 0 THEN {ts} - 86400 * (1 + i % 300) "
        f"ELSE {ts} END, 10, 10.1, 9.9, 10, 100 FROM {bars}",
        "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok) "
        f"SELECT {market}, 'quotes', {ts}, 0.01 * (1 + i % 50), 200, "
        f"CASE WHEN i % 40 = 0 THEN 0 ELSE 1 END FROM {counters}",
        "INSERT INTO orders (market, ticker, side, quantity, price, status, strategy, created_at) "
        f"SELECT {market}, 'T1', CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END, 1, 10, "
        f"CASE WHEN i % 30 = 0 THEN 'rejected' ELSE 'filled' END, 'pairs', {ts} FROM {counters}",
        "INSERT INTO collection_runs (market, source, started_at, finished_at, status) "
        f"SELECT {market}, 'api', {ts}, {ts} + 5, "
        f"CASE WHEN i % 25 = 0 THEN 'failed' ELSE 'success' END FROM {counters}",
    ]


def default_sql(collector: str, dialect: Any) -> list[tuple[str, str, str]]:
    """(metric, sql, value column) of a collector's metrics, identical SQL once."""
    seen: dict[str, tuple[str, str, str]] = {}
    for spec in SQL_COLLECTORS[collector]:
        sql, column = default_query(spec.name, dialect, parse_config({}).histogram_buckets)
        seen.setdefault(sql, (spec.name, sql, column))
    return list(seen.values())


def full_scan_config() -> ExporterConfig:
    """Every metric overridden by its own default SQL: the pre-tally exporter, run whole."""
    metrics: dict[str, Any] = {}
    for collector in SQL_COLLECTORS:
        for spec in SQL_COLLECTORS[collector]:
            sql, column = default_query(spec.name, "sqlite", parse_config({}).histogram_buckets)
            metrics[spec.name] = {"sql": sql, "value_column": column}
    return parse_config({"metrics": metrics, "timeout": TIMEOUT})


def sql_collectors(config: ExporterConfig, url: str) -> list[SqlCollector]:
    return [c for c in build_collectors(config, parse_target(url)) if isinstance(c, SqlCollector)]


def run_collectors(collectors: list[SqlCollector]) -> dict[str, tuple[float, float]]:
    """(wall seconds, this thread's CPU seconds) of one run of each collector."""
    result = {}
    for collector in collectors:
        started, cpu = time.perf_counter(), time.thread_time()
        outcome = collector.run(time.monotonic() + TIMEOUT)
        if outcome.errors:
            raise RuntimeError(f"{collector.name}: {outcome.errors}")
        result[collector.name] = (time.perf_counter() - started, time.thread_time() - cpu)
    return result


# --- SQLite -------------------------------------------------------------------------------------


def bench_sqlite(rows: int, cycles: int, baseline_cycles: int) -> SizeResult:
    source = sqlite_database(rows)
    path = DATA / f"scale-{rows}.work.db"
    log(f"sqlite {rows}: copying {source.name}")
    shutil.copyfile(source, path)
    writer = sqlite3.connect(path, isolation_level=None)
    ours, full = Figures(), Figures()
    incremental = sql_collectors(parse_config({"reconcile": {"timeout": TIMEOUT}}), str(path))
    baseline = sql_collectors(full_scan_config(), str(path))
    log(f"sqlite {rows}: first full count")
    for name, (wall, _) in run_collectors(incremental).items():
        ours.first_s[name] = wall
    for cycle in range(1, cycles + 1):
        for sql in _append_sql(cycle, "sqlite"):
            writer.execute(sql)
        for name, (wall, cpu) in run_collectors(incremental).items():
            ours.db_s[name].append(wall)
            ours.cpu_s[name].append(cpu)
        if cycle <= baseline_cycles:
            for name, (wall, cpu) in run_collectors(baseline).items():
                full.db_s[name].append(wall)
                full.cpu_s[name].append(cpu)
        log(f"sqlite {rows}: cycle {cycle} done")
    writer.close()
    path.unlink()
    return SizeResult("sqlite", rows, ours, full)


# --- PostgreSQL ---------------------------------------------------------------------------------


class PgLog:
    """Statement durations from the cluster's log, per application_name."""

    _LINE = re.compile(r"^([^|\n]*)\|(\d+)\|LOG:  duration: ([0-9.]+) ms", re.M)

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        """Seconds and statements per application since the last call."""
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            text = f.read().decode(errors="replace")
            self._offset = f.tell()
        seconds: dict[str, float] = defaultdict(float)
        count: dict[str, int] = defaultdict(int)
        for app, _, ms in self._LINE.findall(text):
            seconds[app] += float(ms) / 1000
            count[app] += 1
        return seconds, count


def _schedstat(pid: int) -> float:
    """CPU seconds a process has run (nanosecond resolution)."""
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return 0.0


def _backends(admin: psycopg.Connection[Any], prefix: str) -> dict[str, int]:
    rows = admin.execute(
        "SELECT application_name, pid FROM pg_stat_activity WHERE application_name LIKE %s",
        (prefix + "/%",),
    ).fetchall()
    return {app.split("/", 1)[1]: pid for app, pid in rows}


def _temp_bytes(admin: psycopg.Connection[Any], database: str) -> float:
    row = admin.execute(
        "SELECT temp_bytes FROM pg_stat_database WHERE datname = %s", (database,)
    ).fetchone()
    return float(row[0]) if row else 0.0


def _peer_config(url: str, path: Path) -> None:
    jobs = []
    for collector in SQL_COLLECTORS:
        queries = []
        for metric, sql, column in default_sql(collector, "postgresql"):
            spec = next(s for s in SQL_COLLECTORS[collector] if s.name == metric)
            labels = list(spec.labels)
            if spec.type == "histogram":
                labels, column = [*labels, "le"], "count"
            queries.append(
                {
                    "name": metric.removeprefix("trading_"),
                    "help": metric,
                    "labels": labels,
                    "values": [column],
                    "query": sql,
                    "allow_zero_rows": True,
                }
            )
        jobs.append(
            {
                "name": collector,
                "interval": "1h",  # it runs every job once at start; one process per cycle
                "connections": [f"{url}?sslmode=disable&application_name={PEER_APP}/{collector}"],
                "queries": queries,
            }
        )
    path.write_text(yaml.safe_dump({"jobs": jobs}), encoding="utf-8")


def _peer_cycle(
    config: Path, admin: psycopg.Connection[Any], pglog: PgLog, expected: dict[str, int]
) -> tuple[dict[str, float], dict[str, float]]:
    """One run of every peer job: (DB seconds, backend CPU seconds) per collector."""
    from tests.live.processes import free_port

    port = free_port()
    proc = subprocess.Popen(
        [PEER, "-config.file", str(config), "-web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LOGLEVEL": "error"},
    )
    seconds: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    cpu: dict[str, float] = {}
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            time.sleep(0.2)
            for collector, pid in _backends(admin, PEER_APP).items():
                cpu[collector] = max(cpu.get(collector, 0.0), _schedstat(pid))
            got, n = pglog.take()
            for app, value in got.items():
                seconds[app] += value
                count[app] += n[app]
            if all(count[f"{PEER_APP}/{c}"] >= expected[c] for c in expected):
                time.sleep(0.2)  # the backends are idle now: their CPU is final
                for collector, pid in _backends(admin, PEER_APP).items():
                    cpu[collector] = max(cpu.get(collector, 0.0), _schedstat(pid))
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the peer stopped or did not finish its statements")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    db = {c: seconds[f"{PEER_APP}/{c}"] for c in expected}
    return db, cpu


def bench_postgres(cluster: Cluster, rows: int, cycles: int, peer_cycles: int) -> SizeResult:
    source = postgres_database(cluster, rows)
    work = f"{source}_work"
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {work}".encode())
        log(f"postgresql {rows}: copying {source}")
        admin.execute(f"CREATE DATABASE {work} TEMPLATE {source}".encode())
        admin.execute(f"ALTER DATABASE {work} SET log_min_duration_statement = 0".encode())
    url = cluster.url(work)
    ours, peer = Figures(), Figures()
    config_path = DATA / "peer.yml"
    _peer_config(f"postgres://postgres@127.0.0.1:{cluster.port}/{work}", config_path)
    expected = {c: len(default_sql(c, "postgresql")) for c in SQL_COLLECTORS}
    admin = psycopg.connect(cluster.url(), autocommit=True)
    writer = psycopg.connect(cluster.url(work, "writer"), autocommit=True)
    try:
        pglog = PgLog(cluster.log_path)
        config = parse_config({"reconcile": {"timeout": TIMEOUT}})
        incremental = sql_collectors(config, url)
        log(f"postgresql {rows}: first full count")
        before_temp = _temp_bytes(admin, work)
        walls = run_collectors(incremental)
        ours.first_s = {name: wall for name, (wall, _) in walls.items()}
        ours_cpu = {c: _schedstat(p) for c, p in _backends(admin, APPLICATION_NAME).items()}
        pglog.take()
        ours.temp_bytes.append(_temp_bytes(admin, work) - before_temp)
        for cycle in range(1, cycles + 1):
            for sql in _append_sql(cycle, "postgresql"):
                writer.execute(sql.encode())
            pglog.take()
            before_temp = _temp_bytes(admin, work)
            run_collectors(incremental)
            seconds, _ = pglog.take()
            for name in SQL_COLLECTORS:
                ours.db_s[name].append(seconds[f"{APPLICATION_NAME}/{name}"])
            now_cpu = {c: _schedstat(p) for c, p in _backends(admin, APPLICATION_NAME).items()}
            for name in SQL_COLLECTORS:
                ours.cpu_s[name].append(now_cpu[name] - ours_cpu[name])
            ours_cpu = now_cpu
            ours.temp_bytes.append(_temp_bytes(admin, work) - before_temp)
            if cycle <= peer_cycles:
                before_temp = _temp_bytes(admin, work)
                db, cpu = _peer_cycle(config_path, admin, pglog, expected)
                for name in SQL_COLLECTORS:
                    peer.db_s[name].append(db[name])
                    peer.cpu_s[name].append(cpu.get(name, 0.0))
                peer.temp_bytes.append(_temp_bytes(admin, work) - before_temp)
            log(f"postgresql {rows}: cycle {cycle} done")
        for collector in incremental:
            collector.database.close()
    finally:
        writer.close()
        admin.execute(f"DROP DATABASE IF EXISTS {work} WITH (FORCE)".encode())
        admin.close()
    return SizeResult("postgresql", rows, ours, peer)


# --- report -------------------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "-"


def report(results: list[SizeResult]) -> None:
    print(
        f"\nexporter scale benchmark: per cycle {OHLCV_PER_CYCLE:,} OHLCV rows "
        f"(10 % backfilled) + {COUNTER_ROWS_PER_CYCLE:,} rows in each counter table; "
        f"medians over the cycles; {os.cpu_count()} CPUs\n"
    )
    print(
        "| engine | OHLCV rows | collector | ours: DB ms/cycle | ours: DB CPU ms/cycle "
        "| other: DB ms/cycle | other: DB CPU ms/cycle | DB CPU ratio | ours: first count s |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for name in SQL_COLLECTORS:
            ours_cpu = r.ours.cpu_s.get(name, [])
            other_cpu = r.other.cpu_s.get(name, [])
            ratio = "-"
            if ours_cpu and other_cpu and statistics.median(ours_cpu) > 0:
                ratio = f"{statistics.median(other_cpu) / statistics.median(ours_cpu):.0f}x"
            print(
                f"| {r.engine} | {r.rows:,} | {name} | {_ms(r.ours.db_s.get(name, []))} "
                f"| {_ms(ours_cpu)} | {_ms(r.other.db_s.get(name, []))} | {_ms(other_cpu)} "
                f"| {ratio} | {r.ours.first_s.get(name, 0.0):.1f} |"
            )
        if r.engine == "postgresql":
            print(
                f"| {r.engine} | {r.rows:,} | (all) temp bytes/cycle "
                f"| {statistics.median(r.ours.temp_bytes or [0]):.0f} | | "
                f"{statistics.median(r.other.temp_bytes or [0]):.0f} | | | |"
            )
    print(
        "\nother = the peer (prometheus-sql-exporter 0.4.5, default SQL) on PostgreSQL; "
        "the same default SQL run whole in process on SQLite (no SQLite driver in the peer). "
        "SQLite: DB ms = run wall time, CPU = the exporter thread's CPU."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000,50000000")
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--peer-cycles", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    if shutil.which(PEER) is None:
        raise SystemExit(f"{PEER} is not installed (make tools)")
    from tests.live.processes import free_port

    engines = args.engines.split(",")
    results = []
    cluster = Cluster(free_port())
    if "postgresql" in engines:
        cluster.start()
    try:
        for rows in (int(s) for s in args.sizes.split(",")):
            if "postgresql" in engines:
                results.append(bench_postgres(cluster, rows, args.cycles, args.peer_cycles))
            if "sqlite" in engines:
                results.append(bench_sqlite(rows, args.cycles, args.peer_cycles))
            report(results)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
