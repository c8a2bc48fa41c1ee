"""Read-only database access with a deadline: SQLite files (default) and PostgreSQL URLs.

Every collector run opens its own short-lived connection, so a database that was missing,
locked or broken is picked up again on the next run without any reconnect logic.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from exporter.config import ConfigError

Dialect = Literal["sqlite", "postgresql"]
Row = dict[str, Any]


class DatabaseError(Exception):
    """Any failure to reach or query the database, with a short reason."""


@dataclass(frozen=True)
class DatabaseTarget:
    dialect: Dialect
    location: str  # SQLite: file path; PostgreSQL: connection URL (may hold a password)

    def describe(self) -> str:
        """Printable form: a PostgreSQL password is never shown."""
        if self.dialect == "sqlite":
            return self.location
        parts = urlsplit(self.location)
        if parts.password is None:
            return self.location
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))


def parse_target(value: str, key: str = "--db") -> DatabaseTarget:
    """`path`, `sqlite:///relative`, `sqlite:////absolute` or `postgresql://...`."""
    value = value.strip()
    if value.startswith(("postgresql://", "postgres://")):
        return DatabaseTarget("postgresql", value)
    if value.startswith("sqlite:///"):
        path = value[len("sqlite:///") :]
        if path:
            return DatabaseTarget("sqlite", path)
    elif "://" not in value and value:
        return DatabaseTarget("sqlite", value)
    shown = DatabaseTarget("postgresql", value).describe() if "://" in value else value
    raise ConfigError(key, shown, "a SQLite file path, sqlite:///PATH or postgresql://USER@HOST/DB")


class Connection(Protocol):
    def query(self, sql: str) -> list[Row]: ...


class _SqliteConnection:
    def __init__(self, conn: sqlite3.Connection, deadline: float) -> None:
        self._conn = conn
        self._deadline = deadline

    def query(self, sql: str) -> list[Row]:
        _seconds_left(self._deadline)
        try:
            cursor = self._conn.execute(sql)
            names = [d[0].lower() for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.OperationalError as exc:
            if str(exc) == "interrupted":
                raise DatabaseError("timed out (query interrupted at the deadline)") from None
            raise DatabaseError(str(exc)) from None
        except sqlite3.Error as exc:
            raise DatabaseError(str(exc)) from None


class _PostgresConnection:
    def __init__(self, conn: Any, deadline: float) -> None:
        self._conn = conn
        self._deadline = deadline

    def query(self, sql: str) -> list[Row]:
        import psycopg

        remaining_ms = int((self._deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            raise DatabaseError("timed out")
        try:
            with self._conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {remaining_ms}")
                cur.execute(sql)
                names = [d.name.lower() for d in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except psycopg.errors.QueryCanceled:
            raise DatabaseError("timed out (statement_timeout at the deadline)") from None
        except psycopg.Error as exc:
            raise DatabaseError(_first_line(str(exc))) from None


def _seconds_left(deadline: float) -> float:
    """Seconds until `deadline` (time.monotonic()); DatabaseError if it has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DatabaseError("timed out")
    return remaining


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


@contextmanager
def connect(target: DatabaseTarget, deadline: float) -> Iterator[Connection]:
    """Open a read-only connection that gives up at `deadline` (time.monotonic())."""
    if target.dialect == "sqlite":
        with _connect_sqlite(target.location, deadline) as conn:
            yield conn
    else:
        with _connect_postgres(target.location, deadline) as conn:
            yield conn


@contextmanager
def _connect_sqlite(path: str, deadline: float) -> Iterator[Connection]:
    remaining = _seconds_left(deadline)
    if not os.path.exists(path):
        raise DatabaseError(f"database file not found: {path}")
    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    try:
        # `timeout` bounds the wait for a lock; the progress handler bounds slow queries.
        conn = sqlite3.connect(uri, uri=True, timeout=remaining, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseError(_explain_open_error(path, str(exc))) from None
    try:
        # Checked every ~1M VM steps (a few ms): each check takes the GIL from the HTTP threads.
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1_000_000)
        yield _SqliteConnection(conn, deadline)
    finally:
        conn.close()


def _explain_open_error(path: str, message: str) -> str:
    if "unable to open" in message and not os.access(path, os.R_OK):
        return f"permission denied: {path}"
    return message


@contextmanager
def _connect_postgres(url: str, deadline: float) -> Iterator[Connection]:
    import psycopg

    remaining = _seconds_left(deadline)
    try:
        conn = psycopg.connect(url, connect_timeout=max(1, int(remaining)), autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseError(_first_line(str(exc))) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET default_transaction_read_only = on")
        yield _PostgresConnection(conn, deadline)
    except psycopg.Error as exc:
        raise DatabaseError(_first_line(str(exc))) from None
    finally:
        conn.close()
