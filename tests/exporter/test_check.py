"""`python -m exporter check`: every configured query once against a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from exporter import demo_db
from tests.exporter.harness import write_config
from tests.exporter.test_postgres import Postgres, postgres  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]

# Seed 003: PostgreSQL with OHLCV bars under other names, and no orders or collection tables.
SCHEMA = """
CREATE TABLE market_bars (symbol TEXT, venue TEXT, bar_time BIGINT);
INSERT INTO market_bars VALUES ('005930', 'kr', 1795000000), ('AAPL', 'us', 1795000060);
"""
BARS = "SELECT venue AS market, COUNT(*) AS value FROM market_bars GROUP BY venue"
GOOD: dict[str, Any] = {
    "markets": [
        {"code": "kr", "timezone": "Asia/Seoul", "calendar": "XKRX"},
        {"code": "us", "timezone": "America/New_York", "calendar": "XNYS"},
    ],
    "collectors": {c: {"enabled": False} for c in ("collection", "api", "trading")},
    "metrics": {
        "trading_database_last_backup_timestamp_seconds": {"enabled": False},
        "trading_ohlcv_rows": {"sql": BARS},
        "trading_tickers": {
            "sql": "SELECT venue AS market, COUNT(DISTINCT symbol) AS value"
            " FROM market_bars GROUP BY venue"
        },
        "trading_ohlcv_last_update_timestamp_seconds": {
            "sql": "SELECT venue AS market, MAX(bar_time) AS ts FROM market_bars GROUP BY venue",
            "value_column": "ts",
        },
        "trading_ohlcv_rows_missing_market": {
            "sql": "SELECT COUNT(*) AS value FROM market_bars WHERE venue IS NULL"
        },
        "trading_tickers_in_multiple_markets": {"enabled": False},
    },
}


def _check(config: Path, database: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "check",
            "--config",
            str(config),
            "--database",
            database,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def _lines(out: str) -> dict[str, str]:
    """metric -> its whole line (calendar lines name a market, not a metric)."""
    return {
        line.split()[1]: line
        for line in out.splitlines()
        if line[:4] in ("OK  ", "FAIL", "SKIP") and line.split()[1].startswith("trading_")
    }


def test_check_against_the_demo_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 2000, ("kr", "us"), now=1_795_000_000)
    config = write_config(tmp_path / "all.yml", {"markets": GOOD["markets"]})
    done = _check(config, str(db))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert len(lines) == 20 and all(line.startswith("OK") for line in lines.values())
    assert "20 of 20 metric families OK" in done.stdout
    assert "2 of 2 market calendars OK" in done.stdout
    # The seed-003 mapping on the demo schema: market_bars does not exist there.
    mapped = write_config(tmp_path / "mapped.yml", GOOD)
    done = _check(mapped, str(db))
    assert done.returncode == 1
    assert "no such table: market_bars" in _lines(done.stdout)["trading_ohlcv_rows"]


def test_check_against_postgres_good_and_broken_mapping(
    postgres: Postgres,  # noqa: F811
    tmp_path: Path,
) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
    good = write_config(tmp_path / "good.yml", GOOD)
    done = _check(good, postgres.url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert lines["trading_ohlcv_rows"].startswith("OK")
    assert lines["trading_orders"].startswith("SKIP")  # collector disabled: no orders table
    assert lines["trading_database_last_backup_timestamp_seconds"].startswith("SKIP")
    assert "(postgresql)" in done.stdout

    broken_metrics = {**GOOD["metrics"], "trading_tickers": {"sql": "SELECT ticker FROM bars"}}
    broken = write_config(tmp_path / "broken.yml", {**GOOD, "metrics": broken_metrics})
    done = _check(broken, postgres.url)
    assert done.returncode == 1, done.stdout
    lines = _lines(done.stdout)
    assert lines["trading_tickers"].startswith("FAIL")
    assert 'relation "bars" does not exist' in lines["trading_tickers"]
    assert lines["trading_ohlcv_rows"].startswith("OK")  # the others still run
    # Default SQL against this schema: the reference tables are missing, each says which.
    default = write_config(tmp_path / "default.yml", {"markets": GOOD["markets"]})
    done = _check(default, postgres.url)
    assert done.returncode == 1
    assert 'relation "orders" does not exist' in _lines(done.stdout)["trading_orders"]


def test_check_names_a_market_whose_calendar_does_not_load(tmp_path: Path) -> None:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 1000, ("kr",), now=1_795_000_000)
    markets = [*GOOD["markets"], {"code": "sz", "timezone": "Asia/Shanghai", "calendar": "XSHE"}]
    done = _check(write_config(tmp_path / "cal.yml", {"markets": markets}), str(db))
    assert done.returncode == 1, done.stdout
    lines = {line.split(" (")[0]: line for line in done.stdout.splitlines()}
    assert lines["OK    market kr"].endswith("(calendar XKRX)")
    assert "XSHE, does not exist" in lines["FAIL  market sz"]
    assert "20 of 20 metric families OK" in done.stdout  # the database side is fine
