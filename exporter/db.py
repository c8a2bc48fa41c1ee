"""Read-only database access with a deadline: SQLite files (default) and PostgreSQL URLs.

Each collector (and the reconciler) keeps one connection open: no connection set-up and no
session settings per run. Every statement carries its run's deadline. A failed statement
closes the connection and the next one reconnects, so a database that was missing, locked,
restarted or broken is picked up again without a restart of the exporter.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

from exporter.config import ConfigError
from exporter.redact import mask_passwords

Dialect = Literal["sqlite", "postgresql"]
Row = dict[str, Any]


class DatabaseError(Exception):
    """Any failure to reach or query the database, with a short reason (passwords masked:
    a driver may echo the connection string)."""

    def __init__(self, reason: str) -> None:
        super().__init__(mask_passwords(reason))


@dataclass(frozen=True)
class DatabaseTarget:
    dialect: Dialect
    # SQLite: file path; PostgreSQL: connection URL or libpq key=value string (either may hold
    # a password)
    location: str

    def describe(self) -> str:
        """Printable form: a password is never shown, in any DSN form."""
        return mask_passwords(self.location)


# A libpq connection string: `host=db dbname=trading user=exporter password=...`.
_CONNINFO = re.compile(r"^\w+\s*=")


def parse_target(value: str, key: str = "--db") -> DatabaseTarget:
    """`path`, `sqlite:///relative`, `sqlite:////absolute`, `postgresql://...` or a libpq
    key=value string."""
    value = value.strip()
    if value.startswith(("postgresql://", "postgres://")) or _CONNINFO.match(value):
        return DatabaseTarget("postgresql", value)
    if value.startswith("sqlite:///"):
        path = value[len("sqlite:///") :]
        if path:
            return DatabaseTarget("sqlite", path)
    elif "://" not in value and value:
        return DatabaseTarget("sqlite", value)
    raise ConfigError(
        key,
        mask_passwords(value),
        "a SQLite file path, sqlite:///PATH, postgresql://USER@HOST/DB or host=... dbname=...",
    )


class Connection(Protocol):
    def query(self, sql: str) -> list[Row]: ...


APPLICATION_NAME = "trading-exporter"


def _seconds_left(deadline: float) -> float:
    """Seconds until `deadline` (time.monotonic()); DatabaseError if it has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DatabaseError("timed out")
    return remaining


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


class Database:
    """A kept-open, read-only connection (one statement at a time).

    SQLite: the file is opened `mode=ro` and checked at the start of every session (still
    there, readable, the same file), so a deleted, replaced or unreadable file is seen at once
    even though the connection stays open. The busy timeout (lock waits) and a progress
    handler (slow queries) follow each statement's deadline.
    PostgreSQL: read-only, `statement_timeout` and `application_name` travel in the startup
    packet, so no `SET` is sent per run; a statement whose deadline is nearer than the session
    timeout lowers it first (only late runs do).
    """

    def __init__(
        self,
        target: DatabaseTarget,
        statement_timeout: float,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        self.target = target
        self._statement_timeout = statement_timeout
        self._application_name = application_name
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_file: tuple[int, int] | None = None  # (device, inode) of the open file
        self._pg: Any = None
        self._pg_timeout = statement_timeout  # the session's statement_timeout, seconds
        self._deadline = 0.0  # the running statement's deadline (SQLite progress handler)

    @contextmanager
    def session(self, deadline: float) -> Iterator[Connection]:
        """Statements of one run, each under `deadline`; raises DatabaseError."""
        _seconds_left(deadline)
        if self.target.dialect == "sqlite":
            with self._lock:
                self._check_file()
        yield _Session(self, deadline)

    def query(self, sql: str, deadline: float) -> list[Row]:
        remaining = _seconds_left(deadline)
        if not self._lock.acquire(timeout=remaining):
            raise DatabaseError("timed out waiting for the database connection")
        try:
            if self.target.dialect == "sqlite":
                return self._query_sqlite(sql, deadline)
            return self._query_postgres(sql, deadline)
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                self._pg.close()
            self._pg = None

    # --- SQLite ---------------------------------------------------------------------------

    def _check_file(self) -> None:
        path = self.target.location
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._close()
            raise DatabaseError(f"database file not found: {path}") from None
        except OSError as exc:
            self._close()
            raise DatabaseError(f"{exc.strerror}: {path}") from None
        if not os.access(path, os.R_OK):
            self._close()
            raise DatabaseError(f"permission denied: {path}")
        if self._sqlite is not None and self._sqlite_file != (stat.st_dev, stat.st_ino):
            self._close()  # replaced by another file: read the new one

    def _open_sqlite(self) -> sqlite3.Connection:
        path = self.target.location
        if not os.path.exists(path):
            raise DatabaseError(f"database file not found: {path}")
        uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            stat = os.stat(path)
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseError(_explain_open_error(path, str(exc))) from None
        # Checked every ~1M VM steps (a few ms): each check takes the GIL from the HTTP threads.
        conn.set_progress_handler(lambda: int(time.monotonic() > self._deadline), 1_000_000)
        self._sqlite, self._sqlite_file = conn, (stat.st_dev, stat.st_ino)
        return conn

    def _query_sqlite(self, sql: str, deadline: float) -> list[Row]:
        try:
            conn = self._sqlite or self._open_sqlite()
            self._deadline = deadline
            # The busy timeout bounds lock waits; the progress handler bounds slow queries.
            conn.execute(f"PRAGMA busy_timeout = {max(1, int(_seconds_left(deadline) * 1000))}")
            cursor = conn.execute(sql)
            names = [d[0].lower() for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.OperationalError as exc:
            self._close()
            if str(exc) == "interrupted":
                raise DatabaseError("timed out (query interrupted at the deadline)") from None
            raise DatabaseError(str(exc)) from None
        except sqlite3.Error as exc:
            self._close()
            raise DatabaseError(str(exc)) from None

    # --- PostgreSQL -----------------------------------------------------------------------

    def _open_postgres(self, deadline: float) -> Any:
        import psycopg

        options = (
            "-c default_transaction_read_only=on "
            f"-c statement_timeout={int(self._statement_timeout * 1000)}"
        )
        try:
            conn = psycopg.connect(
                self.target.location,
                connect_timeout=max(1, int(_seconds_left(deadline))),
                autocommit=True,
                options=options,
                application_name=self._application_name,
            )
        except psycopg.Error as exc:
            raise DatabaseError(_first_line(str(exc))) from None
        self._pg, self._pg_timeout = conn, self._statement_timeout
        return conn

    def _query_postgres(self, sql: str, deadline: float) -> list[Row]:
        import psycopg

        try:
            conn = self._pg or self._open_postgres(deadline)
            with conn.cursor() as cur:
                wanted = min(self._statement_timeout, _seconds_left(deadline))
                if abs(wanted - self._pg_timeout) > 1.0 or wanted < 1.0 < self._pg_timeout:
                    cur.execute(f"SET statement_timeout = {max(1, int(wanted * 1000))}")
                    self._pg_timeout = wanted
                cur.execute(sql)
                names = [d.name.lower() for d in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except psycopg.errors.QueryCanceled:
            raise DatabaseError("timed out (statement_timeout at the deadline)") from None
        except psycopg.OperationalError as exc:
            self._close()  # the connection is gone: reconnect on the next statement
            raise DatabaseError(_first_line(str(exc))) from None
        except psycopg.Error as exc:
            if conn_broken(self._pg):
                self._close()
            raise DatabaseError(_first_line(str(exc))) from None


def conn_broken(conn: Any) -> bool:
    return conn is None or bool(conn.closed) or conn.broken


class _Session:
    def __init__(self, database: Database, deadline: float) -> None:
        self._database = database
        self._deadline = deadline

    def query(self, sql: str) -> list[Row]:
        return self._database.query(sql, self._deadline)


def _explain_open_error(path: str, message: str) -> str:
    if "unable to open" in message and not os.access(path, os.R_OK):
        return f"permission denied: {path}"
    return message
