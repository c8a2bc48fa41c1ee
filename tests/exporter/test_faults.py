"""Database faults never stop /metrics; the exporter reports them and recovers by itself."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter import demo_db
from tests.exporter.harness import (
    NOBODY,
    Exporter,
    Samples,
    always_open_config,
    run_exporter,
    wait_for,
    write_config,
)
from tests.exporter.slow_clients import SlowClients

MARKETS = ("kr", "us")
UP = ("trading_exporter_database_up", ())
KR_ROWS = ("trading_ohlcv_rows", (("market", "kr"),))


def _ok(exporter: Exporter, samples: Samples, collector: str) -> float | None:
    return exporter.collector_ok(samples, collector)


def _down(exporter: Exporter, samples: Samples) -> bool:
    """Both the database probe and the OHLCV collector have seen the fault (they run apart)."""
    return samples[UP] == 0 and _ok(exporter, samples, "data_quality") == 0


def _assert_down_but_serving(exporter: Exporter, samples: Samples) -> None:
    assert samples[UP] == 0
    assert KR_ROWS not in samples  # a failed collector's series are dropped, not served stale
    assert _ok(exporter, samples, "data_quality") == 0
    assert _ok(exporter, samples, "market_status") == 1  # needs no database
    assert ("trading_market_open", (("market", "kr"),)) in samples
    assert exporter.get("/healthz")[0] == 200
    assert exporter.get("/readyz")[0] == 503


def _assert_recovered(exporter: Exporter) -> Samples:
    samples = exporter.wait_until(
        lambda s: s[UP] == 1 and _ok(exporter, s, "data_quality") == 1 and KR_ROWS in s
    )
    # Ready once every collector has a value again (they run apart, a moment after each other).
    wait_for(lambda: exporter.get("/readyz")[0] == 200, 10, "/readyz 200")
    return samples


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.yml", always_open_config(MARKETS))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "trading.db"
    demo_db.create(str(path), 2000, MARKETS, now=1_795_000_000)
    return path


def test_missing_file_then_created(tmp_path: Path, config: Path) -> None:
    path = tmp_path / "later.db"
    with run_exporter(path, tmp_path, config=config) as exporter:
        samples = exporter.wait_until(lambda s: _down(exporter, s))
        _assert_down_but_serving(exporter, samples)
        exporter.wait_for_log("database file not found")
        assert not path.exists()  # read-only: the exporter never creates the file
        demo_db.create(str(path), 2000, MARKETS)
        assert _assert_recovered(exporter)[KR_ROWS] > 0
        exporter.wait_for_log("collector data_quality recovered")


def test_locked_database_then_released(tmp_path: Path, db: Path, config: Path) -> None:
    with run_exporter(db, tmp_path, "--timeout", "0.5", config=config) as exporter:
        _assert_recovered(exporter)
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: readers are locked out
            samples = exporter.wait_until(lambda s: _down(exporter, s), timeout=10)
            _assert_down_but_serving(exporter, samples)
            exporter.wait_for_log("database is locked")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        _assert_recovered(exporter)


def test_slow_query_hits_its_timeout_and_scrapes_stay_fast(tmp_path: Path, db: Path) -> None:
    raw = always_open_config(MARKETS)
    raw["collectors"] = {"data_quality": {"timeout": 0.5}}
    # An endless query: only the deadline stops it.
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT 'kr' AS market, MAX(x) AS value FROM c"
    )
    raw["metrics"] = {"trading_ohlcv_rows": {"sql": endless}}
    config = write_config(tmp_path / "slow.yml", raw)
    with run_exporter(db, tmp_path, config=config) as exporter:
        # The endless query was stopped: its run ended with the deadline's error.
        exporter.wait_for_log("query interrupted at the deadline", 15)
        samples = exporter.scrape()
        assert _ok(exporter, samples, "data_quality") == 0
        duration = samples[
            ("trading_exporter_collector_duration_seconds", (("collector", "data_quality"),))
        ]
        assert 0.45 <= duration < 5.0, duration  # it ran until its 0.5 s deadline, not forever
        assert samples[UP] == 1 and _ok(exporter, samples, "trading") == 1
        # While the slow collector keeps running, scrapes only serialise what is ready.
        worst = 0.0
        for _ in range(10):
            started = time.monotonic()
            assert exporter.get("/metrics")[0] == 200
            worst = max(worst, time.monotonic() - started)
        assert worst < 0.4, worst


def test_missing_table_then_restored(tmp_path: Path, db: Path, config: Path) -> None:
    with run_exporter(db, tmp_path, config=config) as exporter:
        exporter.wait_until(lambda s: _ok(exporter, s, "trading") == 1)
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE orders RENAME TO orders_moved")
        samples = exporter.wait_until(lambda s: _ok(exporter, s, "trading") == 0)
        orders = ("trading_orders_total", (("market", "kr"), ("side", "buy")))
        assert orders not in samples
        # The rest of the collector and the database itself are fine.
        assert ("trading_open_positions", (("market", "kr"),)) in samples
        assert samples[UP] == 1
        exporter.wait_for_log("no such table: orders")
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE orders_moved RENAME TO orders")
        samples = exporter.wait_until(lambda s: _ok(exporter, s, "trading") == 1)
        assert samples[orders] > 0


def test_missing_column_then_restored(tmp_path: Path, db: Path, config: Path) -> None:
    with run_exporter(db, tmp_path, config=config) as exporter:
        exporter.wait_until(lambda s: _ok(exporter, s, "api") == 1)
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE api_calls RENAME COLUMN ok TO succeeded")
        samples = exporter.wait_until(lambda s: _ok(exporter, s, "api") == 0)
        assert ("trading_api_requests_total", (("endpoint", "quotes"), ("market", "kr"))) not in (
            samples
        )
        exporter.wait_for_log("no such column: ok")
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE api_calls RENAME COLUMN succeeded TO ok")
        exporter.wait_until(lambda s: _ok(exporter, s, "api") == 1)


def test_corrupt_file_then_restored(tmp_path: Path, db: Path, config: Path) -> None:
    backup = tmp_path / "good.db"
    shutil.copy(db, backup)
    with run_exporter(db, tmp_path, config=config) as exporter:
        _assert_recovered(exporter)
        db.write_bytes(b"this is not a database\n" * 512)
        samples = exporter.wait_until(lambda s: _down(exporter, s))
        _assert_down_but_serving(exporter, samples)
        exporter.wait_for_log("file is not a database")
        shutil.copy(backup, db)
        _assert_recovered(exporter)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="exporter-perm-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_permission_denied_then_granted(shared_dir: Path) -> None:
    # chmod 000 does not stop root: as root, the exporter drops to `nobody` after start-up.
    run_as = NOBODY if os.getuid() == 0 else None
    db = shared_dir / "trading.db"
    demo_db.create(str(db), 2000, MARKETS)
    db.chmod(0o644)
    config = write_config(shared_dir / "config.yml", always_open_config(MARKETS))
    config.chmod(0o644)
    with run_exporter(db, shared_dir, config=config, run_as=run_as) as exporter:
        _assert_recovered(exporter)
        db.chmod(0o000)
        samples = exporter.wait_until(lambda s: _down(exporter, s))
        _assert_down_but_serving(exporter, samples)
        exporter.wait_for_log("permission denied")
        db.chmod(0o644)
        _assert_recovered(exporter)


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def test_scrapes_keep_succeeding_while_100_slow_clients_hold_connections(
    tmp_path: Path, db: Path, config: Path
) -> None:
    # 100 clients over the 64-connection cap, each sending one request byte every 10 s and
    # reconnecting 1 s after being dropped; 22 s covers two rounds of the 10 s request deadline.
    with run_exporter(db, tmp_path, config=config) as exporter:
        _assert_recovered(exporter)
        baseline_threads = _threads(exporter.process.pid)
        with SlowClients(exporter.port, count=100, interval=10.0) as slow:
            wait_for(lambda: slow.connects >= 100, 10, "100 slow connections")
            statuses: list[int] = []
            worst, most_threads = 0.0, 0
            until = time.monotonic() + 22
            while time.monotonic() < until:
                started = time.monotonic()
                statuses.append(exporter.get("/metrics")[0])
                worst = max(worst, time.monotonic() - started)
                most_threads = max(most_threads, _threads(exporter.process.pid))
                time.sleep(0.2)
            held = slow.open()
        assert statuses.count(200) == len(statuses) >= 50, statuses
        assert worst < 2.0, worst
        assert held >= 50  # the slow clients did hold connections throughout
        assert slow.drops >= 100  # ... and were dropped: oldest waiting first, then at deadline
        # Bounded by the cap (100 clients would mean 100 threads); a dropped connection's thread
        # and a collector run may briefly add a few.
        assert most_threads <= baseline_threads + 64 + 10, (baseline_threads, most_threads)
        exporter.wait_for_log("dropping the oldest idle connections")
