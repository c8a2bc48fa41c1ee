"""The collectors: each turns one source (database, calendars, host) into metric families.

A collector's `run(deadline)` never raises: it returns the families it could build and the
errors it met. The scheduler runs each collector on its own thread and timetable.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

import psutil
from prometheus_client.core import Metric

from exporter import catalog
from exporter.calendars import CalendarError, Schedule, calendar_schedules, configured_schedule
from exporter.catalog import MetricSpec
from exporter.config import OTHER_ENDPOINT, ExporterConfig, MarketConfig
from exporter.continuity import MonotonicCounters, StickyStrategies
from exporter.db import APPLICATION_NAME as APPLICATION
from exporter.db import Database, DatabaseError, DatabaseTarget, Row
from exporter.families import (
    LabelDomain,
    QueryShapeError,
    cached_help,
    gauge,
    histogram_family,
    sample_family,
)
from exporter.layout import SQL_COLLECTORS
from exporter.queries import INCREMENTAL, PROBE, Incremental, default_query, tally_specs
from exporter.tally import Groups, Query, Tally

log = logging.getLogger("exporter")


@dataclass
class RunResult:
    families: list[Metric] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    database_up: bool | None = None  # set by the collector that probes the database

    @property
    def success(self) -> bool:
        return not self.errors


class Collector(Protocol):
    name: str

    def run(self, deadline: float) -> RunResult: ...


@dataclass(frozen=True)
class MetricQuery:
    spec: MetricSpec
    sql: str
    value_column: str
    incremental: Incremental | None = None  # served from its table's tally, not `sql`


def metric_queries(
    specs: Sequence[MetricSpec], config: ExporterConfig, target: DatabaseTarget
) -> tuple[MetricQuery, ...]:
    """Each enabled metric with its SQL: the config file's override, else the default (served
    incrementally where the metric has a tally)."""
    result = []
    for spec in specs:
        override = config.metrics.get(spec.name)
        if override is not None and not override.enabled:
            continue
        sql, column = default_query(spec.name, target.dialect, config.histogram_buckets)
        incremental = INCREMENTAL.get(spec.name)
        if incremental is not None:
            column = incremental.value_column
        if override is not None and override.sql is not None:
            sql, column, incremental = override.sql, override.value_column, None
        result.append(MetricQuery(spec, sql, column, incremental))
    return tuple(result)


def make_tallies(
    queries: Sequence[MetricQuery], config: ExporterConfig, target: DatabaseTarget
) -> dict[str, Tally]:
    """One tally per table that an incremental metric reads."""
    specs = tally_specs(config.histogram_buckets)
    tallies = {}
    for query in queries:
        if query.incremental is not None and query.incremental.table not in tallies:
            table = query.incremental.table
            settings = config.table(table, target.dialect)
            lag = target.dialect == "postgresql"
            tallies[table] = Tally(
                specs[table], settings.watermark, settings.max_tail, lag, settings.default
            )
    return tallies


class SqlCollector:
    """Runs its metrics' queries on the shared connection; identical SQL text runs once, and
    metrics over append-mostly tables come from their tallies (incremental)."""

    def __init__(
        self,
        name: str,
        database: Database,
        queries: Sequence[MetricQuery],
        config: ExporterConfig,
        probe: bool = False,
    ) -> None:
        self.name = name
        self._database = database
        self._queries = tuple(queries)
        self._tallies = make_tallies(self._queries, config, database.target)
        self._domain = LabelDomain.from_config(config)
        self._buckets = config.histogram_buckets
        self._probe = probe
        self._first_count_timeout = config.reconcile.timeout
        self._timeout = config.collector(name).timeout
        self._counters = MonotonicCounters()  # counters never decrease (rows get deleted)
        self._strategies = StickyStrategies(config.max_strategies, OTHER_ENDPOINT)
        settings = config.collector(name)
        self._help = {
            q.spec.name: cached_help(q.spec, name, settings.interval, settings.timeout)
            for q in self._queries
        }

    @property
    def database(self) -> Database:
        return self._database

    @property
    def incremental(self) -> bool:
        return bool(self._tallies)

    def next_timeout(self, timeout: float) -> float:
        """The next run's timeout: the long one while a first full count is due."""
        if all(t.counted for t in self._tallies.values()):
            return timeout
        return max(timeout, self._first_count_timeout)

    def run(self, deadline: float) -> RunResult:
        """`deadline` may be the long one of a first count: only the tallies get it."""
        result = RunResult()
        normal = min(deadline, time.monotonic() + self._timeout)
        try:
            with self._database.session(normal) as conn:
                if self._probe:
                    conn.query(PROBE[self._database.target.dialect])
                    result.database_up = True
                cache: dict[str, list[Row] | str] = {}
                for query in self._queries:
                    if query.incremental is None and query.sql not in cache:
                        try:
                            cache[query.sql] = conn.query(query.sql)
                        except DatabaseError as exc:
                            cache[query.sql] = str(exc)
            with self._database.session(deadline) as conn:
                for table, tally in self._tallies.items():
                    groups = self._refresh(table, tally, conn.query)
                    for query in self._queries:
                        derive = query.incremental
                        if derive is not None and derive.table == table:
                            # e.g. per market, derived once for three metrics
                            key = f"{table} {derive.derive.__name__}"
                            if key not in cache:
                                cache[key] = (
                                    groups
                                    if isinstance(groups, str)
                                    else derive.derive(tally.spec, groups)
                                )
            for query in self._queries:
                key = query.sql
                if query.incremental is not None:
                    key = f"{query.incremental.table} {query.incremental.derive.__name__}"
                rows = cache[key]
                if isinstance(rows, str):
                    result.errors.append(f"{query.spec.name}: {rows}")
                    continue
                try:
                    result.families.append(self._family(query, rows))
                except QueryShapeError as exc:
                    result.errors.append(str(exc))
        except DatabaseError as exc:
            if self._probe:
                result.database_up = False
            result.errors.append(str(exc))
        return result

    def _refresh(self, table: str, tally: Tally, query: Query) -> Groups | str:
        first = not tally.counted
        started = time.monotonic()
        if first:
            log.info("collector %s: first full count of %s started", self.name, table)
        try:
            groups = tally.refresh(query, partial(self._progress, "first count"))
        except DatabaseError as exc:
            if first:
                log.warning(
                    "collector %s: first full count of %s failed: %s", self.name, table, exc
                )
            return str(exc)
        if first:
            log.info(
                "collector %s: first full count of %s done in %.2fs",
                self.name,
                table,
                time.monotonic() - started,
            )
        return groups

    def _progress(self, what: str, text: str) -> None:
        log.info("collector %s: %s of %s", self.name, what, text)

    def reconcile(self, database: Database, deadline: float) -> list[str]:
        """Recount every tally in full (deletions, updates) over `database` (the reconciler's
        own connection); the errors met, if any."""
        errors = []
        try:
            with database.session(deadline) as conn:
                for table, tally in self._tallies.items():
                    try:
                        progress = partial(self._progress, "reconciliation")
                        if not tally.reconcile(conn.query, progress):
                            errors.append(f"{table}: its first full count has not completed")
                    except DatabaseError as exc:
                        errors.append(f"{table}: {exc}")
        except DatabaseError as exc:
            errors.append(str(exc))
        return errors

    def _family(self, query: MetricQuery, rows: list[Row]) -> Metric:
        help_text = self._help[query.spec.name]
        if query.spec.type == "histogram":
            return histogram_family(
                query.spec, help_text, rows, self._buckets, self._domain, self._counters
            )
        return sample_family(
            query.spec,
            help_text,
            rows,
            query.value_column,
            self._domain,
            self._counters,
            self._strategies,
        )


class MarketStatusCollector:
    """`market_open` from exchange calendars (child process) or configured sessions."""

    name = "market_status"
    # Sessions are computed for this window around today and recomputed before it runs out.
    DAYS_BEFORE, DAYS_AFTER, MARGIN_SECONDS = 2, 21, 86_400
    # After a failed calendar process, wait this long before starting another (it costs ~2 s
    # of CPU), while still reporting the failure on every run.
    RETRY_SECONDS = 60.0

    def __init__(self, config: ExporterConfig) -> None:
        self._markets = config.markets
        self._schedules: dict[str, Schedule] = {}
        self._retry_at = 0.0
        self._last_error = ""
        settings = config.collector(self.name)
        self._help = cached_help(
            catalog.MARKET_OPEN, self.name, settings.interval, settings.timeout
        )

    def run(self, deadline: float) -> RunResult:
        result = RunResult()
        now = time.time()
        stale = [m for m in self._markets if not self._covers(m, now)]
        if stale:
            self._reload(stale, now, deadline, result)
        samples = [
            ((m.code,), float(self._schedules[m.code].is_open(now)))
            for m in self._markets
            if m.code in self._schedules and self._schedules[m.code].covers(now, 0)
        ]
        result.families.append(gauge(catalog.MARKET_OPEN, self._help, samples))
        return result

    def _covers(self, market: MarketConfig, now: float) -> bool:
        schedule = self._schedules.get(market.code)
        return schedule is not None and schedule.covers(now, self.MARGIN_SECONDS)

    def _reload(
        self, markets: Sequence[MarketConfig], now: float, deadline: float, result: RunResult
    ) -> None:
        today = datetime.fromtimestamp(now, tz=UTC).date()
        start, end = today - timedelta(days=self.DAYS_BEFORE), today + timedelta(self.DAYS_AFTER)
        for market in markets:
            if market.calendar is None:
                self._schedules[market.code] = configured_schedule(market, start, end)
        by_calendar = {m.calendar: m.code for m in markets if m.calendar is not None}
        if not by_calendar:
            return
        if time.monotonic() < self._retry_at:
            result.errors.append(f"{self._last_error} (retrying in up to {self.RETRY_SECONDS:g}s)")
            return
        try:
            loaded = calendar_schedules(
                sorted(by_calendar), start, end, max(1.0, deadline - time.monotonic())
            )
        except CalendarError as exc:
            self._last_error = str(exc)
            self._retry_at = time.monotonic() + self.RETRY_SECONDS
            result.errors.append(self._last_error)
            return
        for market in markets:
            if market.calendar is not None:
                self._schedules[market.code] = loaded[market.calendar]


class HostCollector:
    """Host memory, free disk where the database lives, and CPU usage since the last run."""

    name = "host"

    def __init__(self, config: ExporterConfig, target: DatabaseTarget) -> None:
        self._disk_path = os.path.dirname(os.path.abspath(target.location))
        if target.dialect != "sqlite":
            self._disk_path = "/"
        psutil.cpu_percent(interval=None)  # prime: the next call measures since now
        settings = config.collector(self.name)
        self._interval, self._timeout = settings.interval, settings.timeout

    def _help(self, spec: MetricSpec) -> str:
        return cached_help(spec, self.name, self._interval, self._timeout)

    def run(self, deadline: float) -> RunResult:
        result = RunResult()
        memory = psutil.virtual_memory()
        result.families.append(
            gauge(
                catalog.HOST_MEMORY_AVAILABLE,
                self._help(catalog.HOST_MEMORY_AVAILABLE),
                [((), float(memory.available))],
            )
        )
        result.families.append(
            gauge(
                catalog.HOST_MEMORY_TOTAL,
                self._help(catalog.HOST_MEMORY_TOTAL),
                [((), float(memory.total))],
            )
        )
        result.families.append(
            gauge(
                catalog.HOST_CPU_USAGE,
                self._help(catalog.HOST_CPU_USAGE),
                [((), psutil.cpu_percent(interval=None) / 100.0)],
            )
        )
        path = self._disk_path
        while not os.path.isdir(path) and path != os.path.dirname(path):
            path = os.path.dirname(path)  # the database's folder may not exist (yet)
        try:
            free = float(psutil.disk_usage(path).free)
        except OSError as exc:
            result.errors.append(f"disk usage of {path}: {exc.strerror}")
        else:
            result.families.append(
                gauge(catalog.HOST_DISK_FREE, self._help(catalog.HOST_DISK_FREE), [((), free)])
            )
        return result


def build_collectors(config: ExporterConfig, target: DatabaseTarget) -> list[Collector]:
    """Every enabled collector, in exposition order; each SQL one keeps its own connection
    open (a statement stuck on a lock or a slow query holds up only its own collector)."""
    collectors: list[Collector] = []
    for name, specs in SQL_COLLECTORS.items():
        if config.collector(name).enabled:
            queries = metric_queries(specs, config, target)
            database = Database(target, config.collector(name).timeout, f"{APPLICATION}/{name}")
            collectors.append(
                SqlCollector(name, database, queries, config, probe=(name == "database"))
            )
    if config.collector(MarketStatusCollector.name).enabled:
        collectors.append(MarketStatusCollector(config))
    if config.collector(HostCollector.name).enabled:
        collectors.append(HostCollector(config, target))
    return collectors
