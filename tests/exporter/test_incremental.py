"""Incremental aggregates against the full recount, on SQLite and on a real PostgreSQL.

Random rounds of inserts (backfilled old bars included), updates and deletes. What the tallies
(exporter/tally.py) serve must equal the full-scan SQL (the default queries, run whole):
- exactly, after inserts, backfills and updates of rows still pending (an order still `new`,
  a collection run still `running`);
- unchanged, after deletes and updates of settled rows, until the next reconciliation (the
  documented difference: deleted rows stay counted, a settled row keeps what was counted);
- exactly again after the next reconciliation, also when rows arrive while it runs.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporter import demo_db
from exporter.collectors import MetricQuery, make_tallies, metric_queries
from exporter.config import parse_config
from exporter.db import Database, Row, parse_target
from exporter.families import LabelDomain, histogram_family, sample_family
from exporter.layout import INCREMENTAL_TABLES, SQL_COLLECTORS
from exporter.queries import default_query
from exporter.scheduler import serialise
from exporter.tally import Tally
from tests.exporter.harness import Samples, parse
from tests.exporter.test_postgres import Postgres, _copy_sqlite_to_postgres
from tests.exporter.test_postgres import postgres as postgres  # the fixture

MARKETS = ("kr", "us", "vn")
NOW = 1_795_000_000
ROUNDS = 6


@dataclass
class Backend:
    """The database under test, through a writer connection of its own."""

    url: str
    rowid: str  # what counts ohlcv rows in insertion order: SQLite's rowid, PostgreSQL's id
    execute: Callable[[str, tuple[Any, ...]], None]
    fetch: Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 3000, MARKETS, now=NOW, seed=3)
    if request.param == "sqlite":
        lite = sqlite3.connect(db, isolation_level=None)
        yield Backend(
            str(db),
            "rowid",
            lambda sql, args: lite.execute(sql, args).close(),
            lambda sql: lite.execute(sql).fetchall(),
        )
        lite.close()
        return
    server: Postgres = request.getfixturevalue("postgres")
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(b"DROP SCHEMA public CASCADE")
        admin.execute(b"CREATE SCHEMA public")
    _copy_sqlite_to_postgres(db, server.url)
    with psycopg.connect(server.url, autocommit=True) as pg:
        yield Backend(
            server.url,
            "id",
            lambda sql, args: pg.execute(
                sql.replace("%", "%%").replace("?", "%s").encode(), args
            ).close(),
            lambda sql: pg.execute(sql.encode()).fetchall(),
        )


class Incremental:
    """The exporter's tallies over the database, and the full-scan SQL to check them."""

    def __init__(self, url: str, full_scan: bool = False) -> None:
        # A short tail for the tables with pending rows: old pending rows settle, so updates
        # of settled rows happen in the test too.
        tables: dict[str, object] = {
            "orders": {"max_tail": 20},
            "collection_runs": {"max_tail": 20},
        }
        if full_scan:
            tables = {t: {"watermark": "none"} for t in INCREMENTAL_TABLES}
        markets = [{"code": m, "timezone": "UTC", "sessions": ["00:00-24:00"]} for m in MARKETS]
        self.config = parse_config({"markets": markets, "tables": tables})
        target = parse_target(url)
        specs = [spec for specs in SQL_COLLECTORS.values() for spec in specs]
        self.queries = [q for q in metric_queries(specs, self.config, target) if q.incremental]
        self.tallies: dict[str, Tally] = make_tallies(self.queries, self.config, target)
        self.database = Database(target, 30)
        self.domain = LabelDomain.from_config(self.config)
        self.dialect = target.dialect

    def query(self, sql: str) -> list[Row]:
        return self.database.query(sql, time.monotonic() + 30)

    def refresh(self) -> Samples:
        tables = {t: tally.refresh(self.query, lambda _: None) for t, tally in self.tallies.items()}

        def rows(query: MetricQuery) -> tuple[list[Row], str]:
            assert query.incremental is not None
            table = query.incremental.table
            derived = query.incremental.derive(self.tallies[table].spec, tables[table])
            return derived, query.incremental.value_column

        return self._samples(rows)

    def full(self) -> Samples:
        def rows(query: MetricQuery) -> tuple[list[Row], str]:
            sql, column = default_query(
                query.spec.name, self.dialect, self.config.histogram_buckets
            )
            return self.query(sql), column

        return self._samples(rows)

    def reconcile(self, during: Callable[[], None] = lambda: None) -> None:
        """A full recount of every tally; `during` runs once, after its first statement."""
        todo = [during]

        def query(sql: str) -> list[Row]:
            result = self.query(sql)
            while todo:
                todo.pop()()
            return result

        for tally in self.tallies.values():
            assert tally.reconcile(query, lambda _: None)

    def _samples(self, rows_of: Callable[[MetricQuery], tuple[list[Row], str]]) -> Samples:
        families = []
        for query in self.queries:
            rows, column = rows_of(query)
            if query.spec.type == "histogram":
                buckets = self.config.histogram_buckets
                families.append(histogram_family(query.spec, "", rows, buckets, self.domain))
            else:
                families.append(sample_family(query.spec, "", rows, column, self.domain))
        return parse(serialise(families).decode())


class Workload:
    """Random inserts (new and backfilled bars), updates and deletes."""

    def __init__(self, backend: Backend, seed: int) -> None:
        self.db = backend
        self.rng = random.Random(seed)
        self.clock = NOW

    def max_id(self, table: str) -> int:
        column = self.db.rowid if table == "ohlcv" else "id"
        return int(self.db.fetch(f"SELECT COALESCE(MAX({column}), 0) FROM {table}")[0][0])

    def insert(self) -> None:
        rng, self.clock = self.rng, self.clock + 60
        for _ in range(rng.randint(20, 60)):
            market = rng.choice([*MARKETS, "", None]) if rng.random() < 0.1 else rng.choice(MARKETS)
            ticker = f"{rng.choice(MARKETS).upper()}{rng.randint(1, 30):05d}"  # some in 2 markets
            backfill = rng.random() < 0.3
            ts = self.clock - rng.randint(86_400, 90 * 86_400) if backfill else self.clock
            self.db.execute(
                "INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume) "
                "VALUES (?, ?, ?, 1, 1, 1, 1, 1)",
                (ticker, market, ts),
            )
        for _ in range(rng.randint(5, 30)):
            self.db.execute(
                "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok) "
                "VALUES (?, ?, ?, ?, 200, ?)",
                (
                    rng.choice(MARKETS),
                    rng.choice(["quotes", "orders", "news"]),
                    self.clock,
                    rng.choice([0.003, 0.04, 0.3, 2.0, 30.0]),
                    int(rng.random() > 0.1),
                ),
            )
        for _ in range(rng.randint(3, 8)):
            self.db.execute(
                "INSERT INTO orders (market, ticker, side, quantity, price, status, strategy, "
                "created_at) VALUES (?, 'KR00001', ?, 1, 1, ?, 'pairs', ?)",
                (
                    rng.choice(MARKETS),
                    rng.choice(["buy", "sell"]),
                    rng.choice(["new", "new", "filled", "rejected"]),
                    self.clock,
                ),
            )
            self.db.execute(
                "INSERT INTO collection_runs (market, source, started_at, status) "
                "VALUES (?, 'api', ?, ?)",
                (rng.choice(MARKETS), self.clock, rng.choice(["running", "success", "failed"])),
            )

    def finish_pending(self, since: dict[str, int]) -> None:
        """Rows inserted since `since` (still in the tail) change status."""
        self.db.execute(
            "UPDATE orders SET status = CASE WHEN id % 2 = 0 THEN 'rejected' ELSE 'filled' END "
            "WHERE status = 'new' AND id > ?",
            (since["orders"],),
        )
        self.db.execute(
            "UPDATE collection_runs SET status = 'failed' WHERE status = 'running' AND id > ?",
            (since["collection_runs"],),
        )

    def change_settled(self, edges: dict[str, int]) -> None:
        """Deletes and updates of settled rows only (the documented blind spot)."""
        rng = self.rng
        wm = self.db.rowid
        self.db.execute(
            f"DELETE FROM ohlcv WHERE {wm} <= ? AND {wm} % ? = 0",
            (edges["ohlcv"], rng.randint(3, 9)),
        )
        self.db.execute(
            f"UPDATE ohlcv SET market = 'us' WHERE {wm} <= ? AND {wm} % 11 = 0 AND market = 'kr'",
            (edges["ohlcv"],),
        )
        self.db.execute(
            "DELETE FROM api_calls WHERE id <= ? AND id % ? = 0",
            (edges["api_calls"], rng.randint(2, 5)),
        )
        self.db.execute(
            "UPDATE api_calls SET ok = 1 - ok WHERE id <= ? AND id % 13 = 0", (edges["api_calls"],)
        )
        self.db.execute(
            "UPDATE orders SET status = 'failed' WHERE id <= ? AND id % 5 = 0",
            (edges["orders"],),
        )
        self.db.execute(
            "DELETE FROM collection_runs WHERE id <= ? AND id % 4 = 0", (edges["collection_runs"],)
        )


def same(a: Samples, b: Samples) -> bool:
    """Equal series and values (float sums may differ in the last bits: summing order)."""
    return a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-12) for k in a)


def test_incremental_equals_the_full_recount(backend: Backend) -> None:
    exporter = Incremental(backend.url)
    work = Workload(backend, seed=11)
    assert same(exporter.refresh(), exporter.full())  # the first full count
    for _ in range(ROUNDS):
        before = {t: work.max_id(t) for t in exporter.tallies}
        work.insert()  # new rows, backfilled bars
        assert same(exporter.refresh(), exporter.full())
        assert same(exporter.refresh(), exporter.full())  # the edge moves up to pending rows
        work.finish_pending(before)  # pending rows, kept in the tail, change status
        assert same(exporter.refresh(), exporter.full())
        exporter.refresh()  # everything settles up to the newest rows
        edges = {t: tally.edge for t, tally in exporter.tallies.items()}
        assert all(edge is not None for edge in edges.values())
        served = exporter.refresh()
        work.change_settled({t: int(e or 0) for t, e in edges.items()})
        stale = exporter.refresh()
        assert same(stale, served)  # deletes and settled updates wait for the reconciliation
        assert not same(stale, exporter.full())  # (and the round did change something)

        def meanwhile() -> None:  # rows keep arriving and settling while it runs
            for _ in range(2):
                work.insert()
                exporter.refresh()

        exporter.reconcile(during=meanwhile)
        assert same(exporter.refresh(), exporter.full())


def test_a_table_without_watermark_is_recounted_every_time(backend: Backend) -> None:
    exporter = Incremental(backend.url, full_scan=True)
    work = Workload(backend, seed=5)
    work.insert()
    assert same(exporter.refresh(), exporter.full())
    work.change_settled({t: work.max_id(t) for t in exporter.tallies})
    assert same(exporter.refresh(), exporter.full())


def test_an_ohlcv_without_the_default_id_is_recounted_whole(backend: Backend) -> None:
    """PostgreSQL's reference schema before the tallies had no `ohlcv.id`: no failure, a
    warning, and the whole table recounted on every run (as before)."""
    if backend.rowid == "rowid":
        pytest.skip("SQLite always has a rowid")
    backend.execute("ALTER TABLE ohlcv DROP COLUMN id", ())
    exporter = Incremental(backend.url)
    assert same(exporter.refresh(), exporter.full())
    assert exporter.tallies["ohlcv"].watermark is None
    assert exporter.tallies["api_calls"].watermark == "id"
    work = Workload(backend, seed=7)
    work.insert()
    assert same(exporter.refresh(), exporter.full())
