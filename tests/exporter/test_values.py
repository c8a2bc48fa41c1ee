"""Scraped values equal what the database holds (computed here in Python from the raw rows)."""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from exporter import demo_db
from exporter.config import DEFAULT_BUCKETS, DEFAULT_ENDPOINTS
from tests.exporter.harness import (
    Samples,
    always_open_config,
    by_label,
    parse,
    run_exporter,
    write_config,
)

MARKETS = ("kr", "us", "cn", "hk", "jp", "vn")
NOW = 1_795_000_000


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _expected(db: Path) -> dict[str, Any]:
    """Every metric recomputed from raw rows, without the exporter's SQL."""
    ohlcv = _rows(db, "SELECT ticker, market, ts FROM ohlcv")
    rows: Counter[str] = Counter()
    tickers: dict[str, set[str]] = defaultdict(set)
    last: dict[str, int] = {}
    markets_of: dict[str, set[str]] = defaultdict(set)
    missing = 0
    for ticker, market, ts in ohlcv:
        if not market:
            missing += 1
            continue
        rows[market] += 1
        tickers[market].add(ticker)
        last[market] = max(last.get(market, 0), ts)
        markets_of[ticker].add(market)
    runs = _rows(db, "SELECT market, status FROM collection_runs")
    calls = _rows(db, "SELECT market, endpoint, duration_seconds, ok FROM api_calls")
    endpoint = {e: e for e in DEFAULT_ENDPOINTS}
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    failures: Counter[tuple[str, str]] = Counter()
    for market, ep, duration, ok in calls:
        key = (market, endpoint.get(ep, "other"))
        durations[key].append(duration)
        failures[key] += 0 if ok else 1
    newest: dict[tuple[str, str], tuple[int, float]] = {}
    for market, ep, ts, used, quota in _rows(db, "SELECT * FROM api_rate_limits"):
        if (market, ep) not in newest or ts > newest[(market, ep)][0]:
            newest[(market, ep)] = (ts, used / quota)
    orders = _rows(db, "SELECT market, side, status FROM orders")
    positions = _rows(
        db, "SELECT market, market_value, position_limit FROM positions WHERE closed_at IS NULL"
    )
    ratio: dict[str, float] = defaultdict(float)
    for market, value, limit in positions:
        if limit:
            ratio[market] = max(ratio[market], abs(value) / limit)
    pnl: dict[str, float] = defaultdict(float)
    for strategy, value in _rows(db, "SELECT strategy, realised_pnl FROM strategy_pnl"):
        pnl[strategy] += value
    backups = [f for f, s in _rows(db, "SELECT finished_at, status FROM backups") if s == "success"]
    return {
        "rows": rows,
        "tickers": {m: len(t) for m, t in tickers.items()},
        "last": last,
        "missing": missing,
        "multi": sum(1 for ms in markets_of.values() if len(ms) > 1),
        "attempts": Counter(m for m, _ in runs),
        "successes": Counter(m for m, s in runs if s == "success"),
        "failures": Counter(m for m, s in runs if s == "failed"),
        "durations": durations,
        "api_failures": failures,
        "rate": {k: v for k, (_, v) in newest.items()},
        "orders": Counter((m, side) for m, side, _ in orders),
        "orders_failed": Counter((m, s) for m, s, st in orders if st in ("rejected", "failed")),
        "positions": Counter(m for m, _, _ in positions),
        "exposure": {m: sum(abs(v) for mm, v, _ in positions if mm == m) for m in MARKETS},
        "ratio": ratio,
        "pnl": pnl,
        "backup": max(backups),
    }


def _get(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Samples, str]:
    tmp = tmp_path_factory.mktemp("values")
    db = tmp / "trading.db"
    demo_db.create(str(db), 5000, MARKETS, now=NOW, seed=7)
    raw = always_open_config(MARKETS, closed=("vn",))
    raw["reconcile"] = {"interval": 0.3}  # full recounts run (and report) within the test
    config = write_config(tmp / "config.yml", raw)
    reconciled = "trading_exporter_reconciliation_success"
    with run_exporter(db, tmp, config=config) as exporter:
        samples = exporter.wait_until(
            lambda s: (
                all(exporter.collector_ok(s, c) == 1 for c in ("data_quality", "api"))
                and by_label(s, reconciled, "collector")
                == dict.fromkeys(("data_quality", "collection", "api", "trading"), 1.0)
            )
        )
        _, body = exporter.get("/metrics")
    return db, samples, body


def test_data_quality_matches_the_database(scraped: tuple[Path, Samples, str]) -> None:
    db, samples, _ = scraped
    want = _expected(db)
    assert want["missing"] > 0 and want["multi"] > 0  # the demo has both anomalies
    for market in MARKETS:
        assert _get(samples, "trading_ohlcv_rows", market=market) == want["rows"][market]
        assert _get(samples, "trading_tickers", market=market) == want["tickers"][market]
        last = _get(samples, "trading_ohlcv_last_update_timestamp_seconds", market=market)
        assert last == want["last"][market] == NOW
    assert _get(samples, "trading_ohlcv_rows_missing_market") == want["missing"]
    assert _get(samples, "trading_tickers_in_multiple_markets") == want["multi"]
    assert sum(want["rows"].values()) + want["missing"] == 5000


def test_collection_api_and_trading_match_the_database(
    scraped: tuple[Path, Samples, str],
) -> None:
    db, samples, _ = scraped
    want = _expected(db)
    for market in MARKETS:
        for name, key in (("attempts", "attempts"), ("successes", "successes")):
            assert (
                _get(samples, f"trading_collection_{name}_total", market=market)
                == want[key][market]
            )
        assert (
            _get(samples, "trading_collection_failures_total", market=market)
            == want["failures"][market]
        )
        assert _get(samples, "trading_open_positions", market=market) == want["positions"][market]
        assert _get(samples, "trading_position_exposure", market=market) == pytest.approx(
            want["exposure"][market]
        )
        assert _get(samples, "trading_position_limit_usage_ratio", market=market) == (
            pytest.approx(want["ratio"][market])
        )
        for side in ("buy", "sell"):
            got = _get(samples, "trading_orders_total", market=market, side=side)
            assert got == want["orders"][(market, side)]
            got = _get(samples, "trading_orders_failed_total", market=market, side=side)
            assert got == want["orders_failed"][(market, side)]
    for (market, endpoint), durations in want["durations"].items():
        labels = {"market": market, "endpoint": endpoint}
        assert _get(samples, "trading_api_requests_total", **labels) == len(durations)
        failures = want["api_failures"][(market, endpoint)]
        assert _get(samples, "trading_api_failures_total", **labels) == failures
        assert _get(samples, "trading_api_request_duration_seconds_count", **labels) == len(
            durations
        )
        assert _get(samples, "trading_api_request_duration_seconds_sum", **labels) == (
            pytest.approx(sum(durations))
        )
        for bound in DEFAULT_BUCKETS:
            got = _get(
                samples, "trading_api_request_duration_seconds_bucket", le=repr(bound), **labels
            )
            assert got == sum(1 for d in durations if d <= bound), (market, endpoint, bound)
    assert any(endpoint == "other" for _, endpoint in want["durations"])  # folded, bounded
    for (market, endpoint), value in want["rate"].items():
        got = _get(samples, "trading_api_rate_limit_usage_ratio", market=market, endpoint=endpoint)
        assert got == pytest.approx(value)
    assert by_label(samples, "trading_strategy_realised_pnl", "strategy") == pytest.approx(
        dict(want["pnl"])
    )
    assert _get(samples, "trading_database_last_backup_timestamp_seconds") == want["backup"]
    assert _get(samples, "trading_database_size_bytes") == os.path.getsize(db)


def test_market_status_follows_configured_sessions(scraped: tuple[Path, Samples, str]) -> None:
    _, samples, _ = scraped
    status = by_label(samples, "trading_market_open", "market")
    assert status == {m: 0.0 if m == "vn" else 1.0 for m in MARKETS}


def test_exporter_health_build_info_and_process_metrics(
    scraped: tuple[Path, Samples, str],
) -> None:
    _, samples, body = scraped
    assert _get(samples, "trading_exporter_database_up") == 1
    success = by_label(samples, "trading_exporter_collector_success", "collector")
    assert set(success) == {
        "database",
        "data_quality",
        "collection",
        "api",
        "trading",
        "market_status",
        "host",
    }
    assert all(v == 1 for v in success.values()), success
    durations = by_label(samples, "trading_exporter_collector_duration_seconds", "collector")
    assert all(0 < v < 5 for v in durations.values()), durations
    build = [
        labels for (name, labels), _ in samples.items() if name == "trading_exporter_build_info"
    ]
    assert len(build) == 1 and dict(build[0])["version"]
    assert samples[("process_resident_memory_bytes", ())] > 0
    assert (
        0
        < samples[("trading_host_memory_available_bytes", ())]
        <= samples[("trading_host_memory_total_bytes", ())]
    )
    assert samples[("trading_host_disk_free_bytes", ())] > 0
    assert 0 <= samples[("trading_host_cpu_usage_ratio", ())] <= 1
    # Cached families say so in their HELP, with how stale they may be.
    assert "# HELP trading_ohlcv_rows OHLCV rows stored per market. Cached: computed every" in body
    assert "may be up to" in body


def test_every_catalog_metric_is_exposed_with_its_type(scraped: tuple[Path, Samples, str]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from exporter import catalog

    _, _, body = scraped
    families = {f.name: f for f in text_string_to_metric_families(body)}
    for spec in catalog.ALL:
        # The 0.0.4 text format has no info type: an info metric is a gauge named *_info.
        name, kind = (
            (spec.name, spec.type) if spec.type != "info" else (f"{spec.name}_info", "gauge")
        )
        assert name in families, name
        assert families[name].type == kind, name
        for sample in families[name].samples:
            extra = {"le"} if spec.type == "histogram" else set()
            assert set(sample.labels) <= set(spec.labels) | extra, (spec.name, sample.labels)


def test_new_rows_are_visible_on_the_next_refresh(tmp_path: Path) -> None:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 2000, ("kr", "us"), now=NOW)
    config = write_config(tmp_path / "config.yml", always_open_config(("kr", "us")))
    with run_exporter(db, tmp_path, config=config) as exporter:
        before = exporter.wait_until(lambda s: exporter.collector_ok(s, "trading") == 1)[
            ("trading_orders_failed_total", (("market", "kr"), ("side", "sell")))
        ]
        with sqlite3.connect(db) as conn:
            conn.executemany(
                "INSERT INTO orders (market, ticker, side, quantity, price, status, strategy, "
                "created_at) VALUES ('kr', 'KR00001', 'sell', 1, 1, 'rejected', 'pairs', ?)",
                [(NOW,)] * 3,
            )
            conn.execute(
                "INSERT INTO ohlcv VALUES ('KR00001', 'kr', ?, 1, 1, 1, 1, 1)", (NOW + 600,)
            )
        key = ("trading_orders_failed_total", (("market", "kr"), ("side", "sell")))
        after = exporter.wait_until(lambda s: s[key] == before + 3, timeout=5)
        last = ("trading_ohlcv_last_update_timestamp_seconds", (("market", "kr"),))
        assert after[last] == NOW + 600 or exporter.wait_until(lambda s: s[last] == NOW + 600)


def test_concurrent_scrapes_are_consistent(scraped: tuple[Path, Samples, str]) -> None:
    tmp = scraped[0].parent
    db = scraped[0]
    config = tmp / "config.yml"
    errors: list[str] = []
    bodies: list[Samples] = []
    with run_exporter(db, tmp, config=config, refresh=0.1) as exporter:
        exporter.wait_until(lambda s: exporter.collector_ok(s, "api") == 1)

        def worker() -> None:
            for _ in range(15):
                try:
                    status, body = exporter.get("/metrics")
                    if status != 200:
                        errors.append(f"HTTP {status}")
                    bodies.append(parse(body))
                except Exception as exc:  # collected and asserted below
                    errors.append(repr(exc))

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors[:5]
    assert len(bodies) == 16 * 15
    rows = {b[("trading_ohlcv_rows", (("market", "kr"),))] for b in bodies}
    assert len(rows) == 1  # the data did not change, every scrape saw the same complete value
    assert all(math.isfinite(b[("trading_exporter_database_up", ())]) for b in bodies)


def test_exposition_passes_promtool_lint(scraped: tuple[Path, Samples, str]) -> None:
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make tools installs it)")
    _, _, body = scraped
    done = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == ""  # no lint findings either


def test_counters_never_decrease_when_rows_are_deleted(tmp_path: Path) -> None:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 2000, ("kr", "us"), now=NOW)
    config = write_config(tmp_path / "config.yml", always_open_config(("kr", "us")))
    requests = ("trading_api_requests_total", (("endpoint", "account"), ("market", "kr")))
    count = ("trading_api_request_duration_seconds_count", requests[1])
    with run_exporter(db, tmp_path, config=config) as exporter:
        before = exporter.wait_until(lambda s: exporter.collector_ok(s, "api") == 1)
        assert before[requests] == before[count] > 2
        with sqlite3.connect(db) as conn:
            deleted = conn.execute("DELETE FROM api_calls WHERE id % 2 = 0").rowcount
        assert deleted > 0
        # Two more runs of the api collector: the second one started after the delete.
        last_run = (
            "trading_exporter_collector_last_success_timestamp_seconds",
            (("collector", "api"),),
        )
        for _ in range(2):
            seen = exporter.scrape()[last_run]
            exporter.wait_until(lambda s: s[last_run] > seen)  # noqa: B023 (used at once)
        after_delete = exporter.scrape()
        assert after_delete[requests] == before[requests]
        assert after_delete[count] == before[count]
        with sqlite3.connect(db) as conn:
            conn.executemany(
                "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, ok) "
                "VALUES ('kr', 'account', ?, 0.05, 1)",
                [(NOW,)] * 4,
            )
        after_insert = exporter.wait_until(lambda s: s[requests] != before[requests])
        assert after_insert[requests] == before[requests] + 4
        assert after_insert[count] == before[count] + 4
