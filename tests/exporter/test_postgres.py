"""PostgreSQL through a URL (psycopg 3): same values as SQLite on the same data, and recovery.

Needs the PostgreSQL server binaries (initdb, postgres); skipped with a reason when they are
not installed. As root, the server runs as `nobody` (postgres refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from exporter import demo_db
from tests.exporter.harness import (
    NOBODY,
    Samples,
    always_open_config,
    run_exporter,
    wait_for,
    write_config,
)

MARKETS = ("kr", "us", "vn")
UP = ("trading_exporter_database_up", ())
# Series that legitimately differ between two exporters (host, process, timing, file size).
VOLATILE = ("trading_host_", "process_", "trading_exporter_collector_", "trading_database_size")


def _server_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Postgres:
    bindir: Path
    datadir: Path
    port: int
    run_as: int | None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        args = [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port)]
        args += [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.datadir}",
        ]
        args += ["-c", "fsync=off"]
        self.process = subprocess.Popen(
            args, user=self.run_as, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def ready() -> bool:
            try:
                with psycopg.connect(self.url, connect_timeout=1):
                    return True
            except psycopg.OperationalError:
                return False

        wait_for(ready, 30, "postgres to accept connections")

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT: fast shutdown (pg_ctl's default), which ends open sessions. A smart
            # shutdown (SIGTERM) waits for every client to disconnect, and the exporter keeps
            # its connections open.
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    bindir = _server_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not installed")
    run_as = NOBODY if os.getuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="exporter-pg-", dir="/tmp"))
    root.chmod(0o755)
    datadir = root / "data"
    datadir.mkdir(mode=0o700)
    if run_as is not None:
        os.chown(datadir, run_as, run_as)
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "--no-sync"],
        user=run_as,
        check=True,
        capture_output=True,
        cwd=root,
        timeout=120,
    )
    server = Postgres(bindir, datadir, _free_port(), run_as)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _copy_sqlite_to_postgres(sqlite_path: Path, url: str) -> None:
    """Every table, ids included (`ohlcv.id` from SQLite's rowid, the exporter's watermark)."""
    schema = demo_db.postgres_schema()
    source = sqlite3.connect(sqlite_path)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(schema.encode())
        conn.execute(demo_db.OHLCV_INDEX.encode())
        tables = [
            r[0]
            for r in source.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            columns_sql = "rowid, *" if table == "ohlcv" else "*"
            rows = source.execute(f"SELECT {columns_sql} FROM {table}").fetchall()
            if not rows:
                continue
            columns = len(rows[0])
            with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN".encode()) as copy:
                for row in rows:
                    assert len(row) == columns
                    copy.write_row(row)
            if "id BIGINT GENERATED" in schema.split(f"CREATE TABLE {table} (")[1].split(";")[0]:
                # Copied ids: the identity continues after them.
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) "
                    f"FROM {table}".encode()
                )
    source.close()


def _stable(samples: Samples) -> Samples:
    return {k: v for k, v in samples.items() if not k[0].startswith(VOLATILE)}


def test_postgres_matches_sqlite_and_recovers(postgres: Postgres, tmp_path: Path) -> None:
    db = tmp_path / "trading.db"
    demo_db.create(str(db), 3000, MARKETS, now=1_795_000_000)
    _copy_sqlite_to_postgres(db, postgres.url)
    config = write_config(tmp_path / "config.yml", always_open_config(MARKETS))

    def ready(samples: Samples) -> bool:
        names = ("database", "data_quality", "collection", "api", "trading", "market_status")
        return all(
            samples.get(("trading_exporter_collector_success", (("collector", c),))) == 1
            for c in names
        )

    with run_exporter(db, tmp_path, config=config) as lite:
        from_sqlite = _stable(lite.wait_until(ready))
    with run_exporter(postgres.url, tmp_path, config=config) as pg:
        from_postgres = _stable(pg.wait_until(ready))
        assert set(from_postgres) == set(from_sqlite)
        for key, value in from_sqlite.items():
            assert from_postgres[key] == pytest.approx(value, rel=1e-9), key
        size = ("trading_database_size_bytes", ())
        assert pg.scrape()[size] > 1_000_000  # pg_database_size of a real database

        postgres.stop()
        started = time.monotonic()
        collector = ("trading_exporter_collector_success", (("collector", "data_quality"),))
        down = pg.wait_until(lambda s: s[UP] == 0 and s[collector] == 0)
        assert ("trading_ohlcv_rows", (("market", "kr"),)) not in down
        assert pg.get("/readyz")[0] == 503
        assert time.monotonic() - started < 10
        postgres.start()
        pg.wait_until(lambda s: s[UP] == 1 and ready(s), timeout=15)
        assert pg.get("/readyz")[0] == 200
        assert "postgresql://postgres@127.0.0.1" in pg.log()  # which database, in the log


def test_passwords_never_reach_the_log_in_any_dsn_form(postgres: Postgres, tmp_path: Path) -> None:
    # The test server trusts every local connection, so each DSN connects although it carries a
    # password; a second exporter points at a closed port, so connection errors are logged too.
    config = write_config(tmp_path / "config.yml", always_open_config(MARKETS))
    host = f"127.0.0.1:{postgres.port}"
    dsns = {
        "url-userinfo": f"postgresql://postgres:Secret-1@{host}/postgres",
        "url-query": f"postgresql://postgres@{host}/postgres?password=Secret-2",
        "key-value": f"host=127.0.0.1 port={postgres.port} user=postgres password=Secret-3 "
        "dbname=postgres",
        "key-value-quoted": f"host=127.0.0.1 port={postgres.port} user=postgres "
        "password='Secret 4' dbname=postgres",
        "unreachable": f"postgresql://postgres:Secret-5@127.0.0.1:{_free_port()}/postgres",
    }
    for form, dsn in dsns.items():
        want = 0 if form == "unreachable" else 1
        with run_exporter(dsn, tmp_path, config=config) as exporter:
            exporter.wait_until(lambda s: s[UP] == want)  # noqa: B023 (used at once)
            log = exporter.log()
        assert "Secret" not in log, (form, log)
        assert "***" in log and "127.0.0.1" in log, (form, log)
