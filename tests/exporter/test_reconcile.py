"""The real exporter process: the first full count at start-up, and scheduled reconciliations.

- The first count runs under the long (reconciliation) timeout, so a count slower than the
  collector's own timeout is not reported as a failure: the collector has no value until it
  is done, then succeeds; /readyz says ready only once every collector has a value.
- Deletes are seen at the next reconciliation; a reconciliation that fails is reported by its
  own gauge while the collector keeps succeeding.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from exporter import demo_db
from tests.exporter.harness import (
    Samples,
    always_open_config,
    by_label,
    run_exporter,
    wait_for,
    write_config,
)

MARKETS = ("kr", "us")
NOW = 1_795_000_000
SUCCESS = "trading_exporter_collector_success"
RECONCILED = "trading_exporter_reconciliation_success"
KR_ROWS = ("trading_ohlcv_rows", (("market", "kr"),))


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "trading.db"
    demo_db.create(str(path), 400_000, MARKETS, now=NOW)
    return path


def test_a_slow_first_count_is_not_a_failure_and_readyz_waits_for_it(
    tmp_path: Path, big_db: Path
) -> None:
    raw = always_open_config(MARKETS)
    raw["collectors"] = {"data_quality": {"timeout": 0.1}}  # far less than the first count
    config = write_config(tmp_path / "config.yml", raw)
    seen: list[float | None] = []
    readiness: list[int] = []
    with run_exporter(big_db, tmp_path, config=config) as exporter:

        def counted() -> Samples | None:
            samples = exporter.scrape()
            seen.append(by_label(samples, SUCCESS, "collector").get("data_quality"))
            readiness.append(exporter.get("/readyz")[0])
            return samples if seen[-1] == 1 else None

        samples = wait_for(counted, 60, "the first count")
        assert 0 not in seen  # never reported as failing
        assert seen[0] is None and readiness[0] == 503  # no value yet: not ready
        wait_for(lambda: exporter.get("/readyz")[0] == 200, 10, "/readyz 200")
        log = exporter.log()
        assert "first full count of ohlcv started" in log
        took = re.search(r"first full count of ohlcv done in ([0-9.]+)s", log)
        assert took is not None and float(took.group(1)) > 0.1  # longer than its own timeout
        with sqlite3.connect(big_db) as conn:
            want = conn.execute("SELECT COUNT(*) FROM ohlcv WHERE market = 'kr'").fetchone()[0]
        assert samples[KR_ROWS] == want


def test_deletes_are_seen_at_the_reconciliation_and_its_failure_has_its_own_gauge(
    tmp_path: Path,
) -> None:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 20_000, MARKETS, now=NOW)
    raw = always_open_config(MARKETS)
    raw["reconcile"] = {"interval": 1}
    config = write_config(tmp_path / "config.yml", raw)
    with run_exporter(db, tmp_path, config=config) as exporter:
        before = exporter.wait_until(lambda s: by_label(s, RECONCILED, "collector") != {})
        with sqlite3.connect(db) as conn:
            deleted = conn.execute("DELETE FROM ohlcv WHERE market = 'kr' AND rowid % 2 = 0")
            assert deleted.rowcount > 0
            want = conn.execute("SELECT COUNT(*) FROM ohlcv WHERE market = 'kr'").fetchone()[0]
        after = exporter.wait_until(lambda s: s[KR_ROWS] == want, timeout=15)
        assert before[KR_ROWS] > want
        assert by_label(after, RECONCILED, "collector") == dict.fromkeys(
            ("data_quality", "collection", "api", "trading"), 1.0
        )

    # A reconciliation that cannot finish in its timeout fails on its own gauge only.
    raw["reconcile"] = {"interval": 0.5, "timeout": 0.1}
    config = write_config(tmp_path / "failing.yml", raw)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300000) "
            "INSERT INTO ohlcv (ticker, market, ts) SELECT 'KR00001', 'kr', i FROM s"
        )
    with run_exporter(db, tmp_path, config=config) as exporter:
        exporter.wait_until(
            lambda s: (
                by_label(s, SUCCESS, "collector").get("data_quality") == 1
                and by_label(s, RECONCILED, "collector").get("data_quality") == 0
            ),
            timeout=30,
        )
        wait_for(
            lambda: "reconciliation of data_quality failed: ohlcv: timed out" in exporter.log(),
            10,
            "the reconciliation's timeout in the log",
        )
        samples = exporter.scrape()  # the collector keeps succeeding meanwhile
        assert by_label(samples, SUCCESS, "collector")["data_quality"] == 1
        assert by_label(samples, RECONCILED, "collector")["data_quality"] == 0
