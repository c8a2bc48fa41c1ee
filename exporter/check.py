"""`python -m exporter check`: prove a mapping against a real database before deploying it.

Runs every enabled database collector once, exactly as `serve` would, and prints one line per
metric family: OK, or the database's (or the result shape's) error; then loads each market's
exchange calendar. Any failure exits 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from exporter.calendars import CalendarError, calendar_schedules
from exporter.collectors import SqlCollector, metric_queries
from exporter.config import ExporterConfig
from exporter.db import APPLICATION_NAME, Database, DatabaseTarget
from exporter.layout import SQL_COLLECTORS


@dataclass(frozen=True)
class CheckLine:
    metric: str
    collector: str
    error: str | None  # None: OK
    skipped: bool = False

    def render(self) -> str:
        if self.skipped:
            return f"SKIP  {self.metric} ({self.collector}): disabled"
        if self.error is None:
            return f"OK    {self.metric} ({self.collector})"
        return f"FAIL  {self.metric} ({self.collector}): {self.error}"


def check_mapping(config: ExporterConfig, target: DatabaseTarget) -> list[CheckLine]:
    """One line per database-backed metric family of the configuration."""
    lines: list[CheckLine] = []
    for name, specs in SQL_COLLECTORS.items():
        settings = config.collector(name)
        queries = metric_queries(specs, config, target) if settings.enabled else ()
        enabled = {q.spec.name for q in queries}
        errors: list[str] = []
        if queries:
            database = Database(target, settings.timeout, f"{APPLICATION_NAME}/check")
            collector = SqlCollector(name, database, queries, config, probe=(name == "database"))
            # The incremental counts start with a full count, under its own (long) timeout.
            timeout = collector.next_timeout(settings.timeout)
            errors = collector.run(time.monotonic() + timeout).errors
            database.close()
        metrics = tuple(spec.name for spec in specs)
        for metric in metrics:
            if metric not in enabled:
                lines.append(CheckLine(metric, name, None, skipped=True))
            else:
                lines.append(CheckLine(metric, name, _error_of(metric, metrics, errors)))
    return lines


def _error_of(metric: str, metrics: tuple[str, ...], errors: list[str]) -> str | None:
    """The metric's own error ("<metric>: reason"), else a collector-wide one (connection)."""
    own = [e.removeprefix(f"{metric}: ") for e in errors if e.startswith(f"{metric}: ")]
    shared = [e for e in errors if not any(e.startswith(f"{m}: ") for m in metrics)]
    found = own or shared
    return found[0] if found else None


def check_calendars(config: ExporterConfig) -> list[CheckLine]:
    """One line per market with an exchange calendar: loaded by the calendar child process
    (one process per calendar, so a wrong name is reported on its own market)."""
    if not config.collector("market_status").enabled:
        return []
    today = date.today()
    timeout = config.collector("market_status").timeout
    lines = []
    for market in config.markets:
        if market.calendar is None:
            continue
        error = None
        try:
            calendar_schedules([market.calendar], today, today + timedelta(days=7), timeout)
        except CalendarError as exc:
            error = str(exc)
        lines.append(CheckLine(f"market {market.code}", f"calendar {market.calendar}", error))
    return lines


def run_check(
    config: ExporterConfig, target: DatabaseTarget, out: Callable[[str], None] = print
) -> int:
    lines = check_mapping(config, target)
    calendars = check_calendars(config)
    for line in (*lines, *calendars):
        out(line.render())
    checked = [line for line in lines if not line.skipped]
    failed = [line for line in checked if line.error is not None]
    bad_calendars = [line for line in calendars if line.error is not None]
    out(
        f"{len(checked) - len(failed)} of {len(checked)} metric families OK against"
        f" {target.describe()} ({target.dialect}); {len(calendars) - len(bad_calendars)} of"
        f" {len(calendars)} market calendars OK"
    )
    return 1 if failed or bad_calendars else 0
