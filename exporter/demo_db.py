"""A realistic trading database for demos, tests and benchmarks (SQLite, reference schema).

`create(path, rows, markets, now=...)` builds OHLCV bars, tickers, data-collection runs, an API
call log with rate-limit snapshots, orders, positions, strategy P&L and backups. OHLCV rows
are generated inside SQLite (about 10M rows in well under a minute); the file is built next
to `path` and renamed into place, so a running exporter never sees a half-built database.
All timestamps are Unix seconds (UTC).
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE tickers (
    ticker TEXT NOT NULL,
    market TEXT NOT NULL,
    name TEXT,
    currency TEXT,
    listed_at INTEGER,
    PRIMARY KEY (ticker, market)
);
CREATE TABLE ohlcv (
    ticker TEXT NOT NULL,
    market TEXT,                -- NULL or '' is a data-quality problem the exporter reports
    ts INTEGER NOT NULL,        -- bar open time, Unix seconds
    open REAL, high REAL, low REAL, close REAL,
    volume INTEGER
);
CREATE TABLE collection_runs (
    id INTEGER PRIMARY KEY,
    market TEXT NOT NULL,
    source TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status TEXT NOT NULL,       -- 'running' | 'success' | 'failed'
    rows_written INTEGER,
    error TEXT
);
CREATE INDEX collection_runs_market ON collection_runs (market, status);
CREATE TABLE api_calls (
    id INTEGER PRIMARY KEY,
    market TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    ts INTEGER NOT NULL,
    duration_seconds REAL NOT NULL,
    status_code INTEGER,
    ok INTEGER NOT NULL         -- 1 success, 0 failure
);
CREATE INDEX api_calls_market_endpoint ON api_calls (market, endpoint);
CREATE TABLE api_rate_limits (
    market TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    ts INTEGER NOT NULL,        -- the newest snapshot per (market, endpoint) is current
    used INTEGER NOT NULL,
    quota INTEGER NOT NULL
);
CREATE INDEX api_rate_limits_newest ON api_rate_limits (market, endpoint, ts);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    market TEXT NOT NULL,
    ticker TEXT NOT NULL,
    side TEXT NOT NULL,         -- 'buy' | 'sell'
    quantity REAL NOT NULL,
    price REAL,
    status TEXT NOT NULL,       -- 'new' | 'filled' | 'cancelled' | 'rejected' | 'failed'
    strategy TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX orders_market_side ON orders (market, side, status);
CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    market TEXT NOT NULL,
    ticker TEXT NOT NULL,
    strategy TEXT,
    quantity REAL NOT NULL,
    avg_price REAL,
    market_value REAL NOT NULL,   -- in the account's base currency; negative when short
    position_limit REAL,          -- max allowed |market_value|; NULL = no limit
    opened_at INTEGER NOT NULL,
    closed_at INTEGER             -- NULL while open
);
CREATE TABLE strategy_pnl (
    strategy TEXT NOT NULL,
    ts INTEGER NOT NULL,
    realised_pnl REAL NOT NULL    -- one row per closed trade, base currency
);
CREATE TABLE backups (
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status TEXT NOT NULL,         -- 'success' | 'failed' | 'running'
    size_bytes INTEGER,
    location TEXT
);
"""
OHLCV_INDEX = "CREATE INDEX ohlcv_market_ticker_ts ON ohlcv (market, ticker, ts)"

DEFAULT_MARKETS = ("kr", "us", "cn", "hk", "jp", "vn")
ENDPOINTS = ("quotes", "ohlcv", "orders", "account", "auth")
UNLISTED_ENDPOINT = "news"  # not in the exporter's default endpoint list: shows as "other"
STRATEGIES = ("momentum", "mean_reversion", "pairs", "breakout", "market_making")
CURRENCIES = {"kr": "KRW", "us": "USD", "cn": "CNY", "hk": "HKD", "jp": "JPY", "vn": "VND"}


@dataclass(frozen=True)
class DemoSummary:
    path: str
    ohlcv_rows: int
    tickers: int
    seconds: float


def _ticker_count(rows: int, markets: int) -> int:
    return max(markets, min(20_000, rows // 500))


def create(
    path: str,
    rows: int,
    markets: Sequence[str] = DEFAULT_MARKETS,
    *,
    now: int | None = None,
    seed: int = 0,
    bar_seconds: int = 60,
    anomalies: bool = True,
) -> DemoSummary:
    """Build the demo database at `path` (replacing it) and return what was written.

    `now` is the newest bar's time (default: the current time); anomalies add a few OHLCV rows
    without a market and a few tickers listed in two markets, as real feeds do.
    """
    if rows < 0 or bar_seconds < 1:
        raise ValueError("rows must be >= 0 and bar_seconds >= 1")
    if not markets:
        raise ValueError("at least one market")
    started = time.monotonic()
    now = int(time.time()) if now is None else int(now)
    rng = random.Random(seed)
    tmp = f"{path}.building-{os.getpid()}"
    for leftover in (tmp, f"{tmp}-journal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        ticker_total = _ticker_count(rows, len(markets))
        tickers = _insert_tickers(conn, markets, ticker_total, now, rng)
        _insert_ohlcv(conn, markets, tickers, rows, now, bar_seconds, anomalies)
        conn.execute(OHLCV_INDEX)
        _insert_activity(conn, markets, tickers, rows, now, rng)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    os.replace(tmp, path)
    return DemoSummary(path, rows, len(tickers), time.monotonic() - started)


def _insert_tickers(
    conn: sqlite3.Connection, markets: Sequence[str], total: int, now: int, rng: random.Random
) -> list[tuple[str, str, float]]:
    """(ticker, market, base price) in (market, ticker) order."""
    tickers = []
    for m_index, market in enumerate(markets):
        share = total // len(markets) + (1 if m_index < total % len(markets) else 0)
        for n in range(1, share + 1):
            tickers.append((f"{market.upper()}{n:05d}", market, round(rng.uniform(5, 500), 2)))
    conn.executemany(
        "INSERT INTO tickers VALUES (?, ?, ?, ?, ?)",
        [
            (t, m, f"{m.upper()} company {t[-5:]}", CURRENCIES.get(m, "USD"), now - 86400 * 3650)
            for t, m, _ in tickers
        ],
    )
    return tickers


def _insert_ohlcv(
    conn: sqlite3.Connection,
    markets: Sequence[str],
    tickers: list[tuple[str, str, float]],
    rows: int,
    now: int,
    bar_seconds: int,
    anomalies: bool,
) -> None:
    """Bars for every ticker, newest at `now`, plus the anomalies."""
    missing = max(1, rows // 100_000) if anomalies and rows >= 1000 else 0
    dual = min(3, len(tickers)) if anomalies and rows >= 1000 and len(markets) > 1 else 0
    dual_bars = 10
    normal = rows - missing - dual * dual_bars
    bars = max(1, math.ceil(normal / max(1, len(tickers))))
    conn.execute(
        "CREATE TEMP TABLE demo_base (idx INTEGER PRIMARY KEY, ticker TEXT, market TEXT, base REAL)"
    )
    conn.executemany("INSERT INTO demo_base (ticker, market, base) VALUES (?, ?, ?)", tickers)
    # Generated inside SQLite: a deterministic wave plus noise around each ticker's base price.
    conn.execute(
        """
        WITH RECURSIVE bar(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM bar WHERE i < :bars - 1)
        INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume)
        SELECT ticker, market, ts, o, MAX(o, c) * 1.004, MIN(o, c) * 0.996, c, vol FROM (
            SELECT t.ticker AS ticker, t.market AS market,
                   :now - bar.i * :step AS ts,
                   ROUND(t.base * (1 + ((t.idx * 7 + bar.i) % 200 - 100) / 1000.0), 2) AS o,
                   ROUND(t.base * (1 + ((t.idx * 7 + bar.i + 1) % 200 - 100) / 1000.0
                         + (ABS(RANDOM()) % 201 - 100) / 100000.0), 2) AS c,
                   100 + ABS(RANDOM()) % 100000 AS vol
            FROM demo_base AS t CROSS JOIN bar
            LIMIT :normal
        )
        """,
        {"bars": bars, "now": now, "step": bar_seconds, "normal": max(0, normal)},
    )
    if missing:
        conn.executemany(
            "INSERT INTO ohlcv VALUES (?, ?, ?, 1, 1, 1, 1, 0)",
            [
                (tickers[i % len(tickers)][0], None if i % 2 else "", now - i * bar_seconds)
                for i in range(missing)
            ],
        )
    second_market = {m: markets[(i + 1) % len(markets)] for i, m in enumerate(markets)}
    for ticker, market, base in tickers[:dual]:
        conn.executemany(
            "INSERT INTO ohlcv VALUES (?, ?, ?, ?, ?, ?, ?, 1000)",
            [
                (ticker, second_market[market], now - i * bar_seconds, base, base, base, base)
                for i in range(dual_bars)
            ],
        )
    conn.execute("DROP TABLE demo_base")


def _insert_activity(
    conn: sqlite3.Connection,
    markets: Sequence[str],
    tickers: list[tuple[str, str, float]],
    rows: int,
    now: int,
    rng: random.Random,
) -> None:
    """Collection runs, API calls, rate limits, orders, positions, P&L and backups."""
    by_market: dict[str, list[tuple[str, float]]] = {m: [] for m in markets}
    for ticker, market, base in tickers:
        by_market[market].append((ticker, base))

    runs = []
    for market in markets:
        for k in range(7 * 24 * 4):  # every 15 minutes for a week
            started = now - (k + 1) * 900
            roll = rng.random()
            status = "running" if k == 0 else "failed" if roll < 0.04 else "success"
            finished = None if status == "running" else started + rng.randint(5, 120)
            error = "upstream HTTP 503" if status == "failed" else None
            runs.append(
                (market, "broker_api", started, finished, status, rng.randint(0, 5000), error)
            )
    conn.executemany(
        "INSERT INTO collection_runs (market, source, started_at, finished_at, status, "
        "rows_written, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
        runs,
    )

    calls = []
    for _ in range(max(100, min(200_000, rows // 10))):
        endpoint = UNLISTED_ENDPOINT if rng.random() < 0.01 else rng.choice(ENDPOINTS)
        duration = min(30.0, rng.lognormvariate(math.log(0.08), 0.9))
        ok = 0 if rng.random() < 0.03 else 1
        code = 200 if ok else rng.choice((429, 500, 502, 503))
        calls.append(
            (rng.choice(markets), endpoint, now - rng.randint(0, 86_400), duration, code, ok)
        )
    conn.executemany(
        "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        calls,
    )
    limits = []
    for market in markets:
        for endpoint in ENDPOINTS:
            quota = rng.choice((60, 120, 600, 1200))
            for k in range(12):
                limits.append((market, endpoint, now - k * 300, rng.randint(0, quota), quota))
    conn.executemany("INSERT INTO api_rate_limits VALUES (?, ?, ?, ?, ?)", limits)

    orders = []
    statuses = ("filled",) * 85 + ("cancelled",) * 8 + ("rejected",) * 4 + ("failed", "new", "new")
    for _ in range(max(50, min(200_000, rows // 50))):
        market = rng.choice(markets)
        ticker, base = rng.choice(by_market[market])
        orders.append(
            (
                market,
                ticker,
                rng.choice(("buy", "sell")),
                rng.randint(1, 500),
                base,
                rng.choice(statuses),
                rng.choice(STRATEGIES),
                now - rng.randint(0, 30 * 86_400),
            )
        )
    conn.executemany(
        "INSERT INTO orders (market, ticker, side, quantity, price, status, strategy, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        orders,
    )

    positions = []
    for market in markets:
        for _ in range(rng.randint(10, 40)):
            ticker, base = rng.choice(by_market[market])
            quantity = rng.randint(-200, 1000) or 1
            value = round(quantity * base, 2)
            limit = None if rng.random() < 0.1 else round(abs(value) * rng.uniform(1.1, 4.0), 2)
            opened = now - rng.randint(3600, 90 * 86_400)
            closed = opened + rng.randint(60, 3600) if rng.random() < 0.2 else None
            positions.append(
                (
                    market,
                    ticker,
                    rng.choice(STRATEGIES),
                    quantity,
                    base,
                    value,
                    limit,
                    opened,
                    closed,
                )
            )
    conn.executemany(
        "INSERT INTO positions (market, ticker, strategy, quantity, avg_price, market_value, "
        "position_limit, opened_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        positions,
    )

    pnl = [
        (strategy, now - rng.randint(0, 90 * 86_400), round(rng.gauss(50, 400), 2))
        for strategy in STRATEGIES
        for _ in range(rng.randint(50, 150))
    ]
    conn.executemany("INSERT INTO strategy_pnl VALUES (?, ?, ?)", pnl)

    backups = []
    for day in range(14):
        started = now - day * 86_400 - 3 * 3600
        status = "failed" if day == 3 else "success"
        backups.append(
            (started, started + 600, status, 10_000_000 + day, f"s3://backups/trading-{day}.db")
        )
    conn.executemany(
        "INSERT INTO backups (started_at, finished_at, status, size_bytes, location) "
        "VALUES (?, ?, ?, ?, ?)",
        backups,
    )
