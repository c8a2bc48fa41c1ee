"""Runs each collector off the scrape path and keeps its latest output ready to serve.

One thread per collector: a run never overlaps the previous run of the same collector, each
run has its own deadline, and its families are serialised once, when the run ends. A scrape
only concatenates the ready bytes and renders a handful of health gauges.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector as PromCollector

from exporter import __version__, catalog
from exporter.collectors import Collector, RunResult, SqlCollector
from exporter.config import CollectorSettings, ReconcileSettings
from exporter.db import APPLICATION_NAME, Database
from exporter.families import gauge, info_family

log = logging.getLogger("exporter")
PROBE_COLLECTOR = "database"  # its run result carries `database_up`


class _Families(PromCollector):
    """Adapter so generate_latest can serialise a fixed list of families."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def serialise(families: Iterable[Metric]) -> bytes:
    return generate_latest(_Families(families))


@dataclass(frozen=True)
class CollectorStatus:
    """The outcome of a collector's last finished run, ready for scrapes."""

    body: bytes  # its families in the text exposition format
    success: bool
    duration: float
    finished_at: float
    last_success: float | None


class ExporterState:
    """Shared between collector threads (writers) and HTTP threads (readers)."""

    def __init__(self, settings: dict[str, CollectorSettings]) -> None:
        self._lock = threading.Lock()
        self._settings = settings
        self._status: dict[str, CollectorStatus] = {}
        self._running_since: dict[str, tuple[float, float]] = {}  # (started, its timeout)
        self._reconciliation = b""  # the reconciler's own gauges, serialised
        self._database_up: bool | None = None
        self._process = ProcessCollector(registry=None)
        self._build = serialise(
            [
                info_family(
                    catalog.EXPORTER_BUILD,
                    {"version": __version__, "python_version": platform.python_version()},
                )
            ]
        )

    @property
    def database_up(self) -> bool:
        """The last probe's answer; a probe stuck past its deadline counts as down."""
        with self._lock:
            return bool(self._database_up) and not self._overdue(PROBE_COLLECTOR)

    @property
    def ready(self) -> bool:
        """For /readyz: the database answers and every collector has had a value."""
        with self._lock:
            values = all(
                name in self._status and self._status[name].last_success is not None
                for name in self._settings
            )
        return values and self.database_up

    def _overdue(self, name: str) -> bool:
        running = self._running_since.get(name)
        if running is None:
            return False
        started, timeout = running
        return time.monotonic() - started > timeout

    def run_started(self, name: str, timeout: float | None = None) -> None:
        """A run began; it is overdue after `timeout` (default: the collector's timeout)."""
        if timeout is None:
            timeout = self._settings[name].timeout if name in self._settings else math.inf
        with self._lock:
            self._running_since[name] = (time.monotonic(), timeout)

    def publish_reconciliation(self, body: bytes) -> None:
        with self._lock:
            self._reconciliation = body

    def publish(self, name: str, result: RunResult, duration: float) -> None:
        body = serialise(result.families)
        now = time.time()
        with self._lock:
            self._running_since.pop(name, None)
            previous = self._status.get(name)
            last_success = previous.last_success if previous is not None else None
            if result.success:
                last_success = now
            self._status[name] = CollectorStatus(body, result.success, duration, now, last_success)
            if result.database_up is not None:
                self._database_up = result.database_up

    def render(self) -> bytes:
        """The whole exposition. Cheap: no database work happens here."""
        now = time.monotonic()
        with self._lock:
            status = dict(self._status)
            running = dict(self._running_since)
            reconciliation = self._reconciliation
        database_up = self.database_up
        parts: list[bytes] = []
        durations, successes, last_successes = [], [], []
        for name in self._settings:
            current = status.get(name)
            started, timeout = running.get(name, (now, math.inf))
            if now - started > timeout:
                # Stuck past its deadline (e.g. an uninterruptible call): report a failure.
                durations.append(((name,), now - started))
                successes.append(((name,), 0.0))
            elif current is not None:
                parts.append(current.body)
                durations.append(((name,), current.duration))
                successes.append(((name,), float(current.success)))
            if current is not None and current.last_success is not None:
                last_successes.append(((name,), current.last_success))
        health = [
            gauge(
                catalog.EXPORTER_DATABASE_UP,
                catalog.EXPORTER_DATABASE_UP.help,
                [((), float(bool(database_up)))],
            ),
            gauge(
                catalog.EXPORTER_COLLECTOR_DURATION,
                catalog.EXPORTER_COLLECTOR_DURATION.help,
                durations,
            ),
            gauge(
                catalog.EXPORTER_COLLECTOR_SUCCESS,
                catalog.EXPORTER_COLLECTOR_SUCCESS.help,
                successes,
            ),
            gauge(
                catalog.EXPORTER_COLLECTOR_LAST_SUCCESS,
                catalog.EXPORTER_COLLECTOR_LAST_SUCCESS.help,
                last_successes,
            ),
        ]
        parts.append(serialise(health))
        parts.append(reconciliation)
        parts.append(self._build)
        parts.append(serialise(self._process.collect()))
        return b"".join(parts)


class CollectorThread(threading.Thread):
    """Runs one collector every `interval` seconds (start to start) until stopped."""

    def __init__(
        self,
        collector: Collector,
        settings: CollectorSettings,
        state: ExporterState,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"collector-{collector.name}", daemon=True)
        self._collector = collector
        self._settings = settings
        self._state = state
        self._stop_event = stop
        self._last_error: str | None = None

    def run(self) -> None:
        _lower_thread_priority()
        while not self._stop_event.is_set():
            started = time.monotonic()
            self.run_once(started)
            elapsed = time.monotonic() - started
            self._stop_event.wait(max(0.0, self._settings.interval - elapsed))

    def run_once(self, started: float) -> None:
        name = self._collector.name
        # A first full count gets the long timeout (it is not overdue, so nothing fails).
        timeout = self._settings.timeout
        if isinstance(self._collector, SqlCollector):
            timeout = self._collector.next_timeout(timeout)
        self._state.run_started(name, timeout)
        try:
            result = self._collector.run(started + timeout)
        except Exception as exc:  # a collector bug must not kill the thread
            log.exception("collector %s crashed", name)
            result = RunResult(errors=[f"internal error: {exc!r}"])
        duration = time.monotonic() - started
        if duration > timeout and result.success:
            result.errors.append(f"run took {duration:.3f}s, over its {timeout}s")
        self._state.publish(name, result, duration)
        self._log_change(name, result)

    def _log_change(self, name: str, result: RunResult) -> None:
        """Log when a collector starts failing, changes error, or recovers (not every run)."""
        error = "; ".join(result.errors) if result.errors else None
        if error != self._last_error:
            if error is None:
                log.info("collector %s recovered", name)
            else:
                log.warning("collector %s failed: %s", name, error)
        self._last_error = error


class Reconciler(threading.Thread):
    """Recounts the incremental collectors' tallies in full every `interval` (deletions and
    updates), off the collectors' path: its failure shows in its own gauges and the log, and
    the collectors keep serving their incremental counts meanwhile."""

    def __init__(
        self,
        collectors: Sequence[SqlCollector],
        settings: ReconcileSettings,
        state: ExporterState,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="reconciler", daemon=True)
        self._collectors = collectors
        # Its own kept-open connection; one chunk of a recount per statement.
        self._database = Database(
            collectors[0].database.target, settings.timeout, f"{APPLICATION_NAME}/reconciler"
        )
        self._settings = settings
        self._state = state
        self._stop_event = stop
        self._samples: dict[str, tuple[float, float, float | None]] = {}
        self._last_error: dict[str, str | None] = {}

    def run(self) -> None:
        _lower_thread_priority()
        while not self._stop_event.wait(self._settings.interval):
            self.run_once()

    def run_once(self) -> None:
        for collector in self._collectors:
            started = time.monotonic()
            try:
                errors = collector.reconcile(self._database, started + self._settings.timeout)
            except Exception as exc:  # a bug must not kill the thread
                log.exception("reconciliation of %s crashed", collector.name)
                errors = [f"internal error: {exc!r}"]
            duration = time.monotonic() - started
            previous = self._samples.get(collector.name, (0.0, 0.0, None))[2]
            last_success = previous if errors else time.time()
            self._samples[collector.name] = (float(not errors), duration, last_success)
            error = "; ".join(errors) if errors else None
            if error != self._last_error.get(collector.name):
                if error is None:
                    log.info("reconciliation of %s succeeded in %.1fs", collector.name, duration)
                else:
                    log.warning("reconciliation of %s failed: %s", collector.name, error)
            self._last_error[collector.name] = error
            self._publish()

    def _publish(self) -> None:
        samples = sorted(self._samples.items())
        families = [
            gauge(
                catalog.EXPORTER_RECONCILIATION_SUCCESS,
                catalog.EXPORTER_RECONCILIATION_SUCCESS.help,
                [((name,), s[0]) for name, s in samples],
            ),
            gauge(
                catalog.EXPORTER_RECONCILIATION_DURATION,
                catalog.EXPORTER_RECONCILIATION_DURATION.help,
                [((name,), s[1]) for name, s in samples],
            ),
            gauge(
                catalog.EXPORTER_RECONCILIATION_LAST_SUCCESS,
                catalog.EXPORTER_RECONCILIATION_LAST_SUCCESS.help,
                [((name,), s[2]) for name, s in samples if s[2] is not None],
            ),
        ]
        self._state.publish_reconciliation(serialise(families))


def _lower_thread_priority() -> None:
    """Run collector work at nice +10 (Linux: per thread), so HTTP threads get the CPU first."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
    except (OSError, AttributeError):
        pass  # not Linux, or not allowed: scrapes are still served, just less favoured


def start_collectors(
    collectors: Sequence[Collector],
    settings: dict[str, CollectorSettings],
    state: ExporterState,
    stop: threading.Event,
    reconcile: ReconcileSettings | None = None,
) -> list[threading.Thread]:
    """A thread per collector, and the reconciler when given its settings."""
    threads: list[threading.Thread] = [
        CollectorThread(c, settings[c.name], state, stop) for c in collectors
    ]
    incremental = [c for c in collectors if isinstance(c, SqlCollector) and c.incremental]
    if reconcile is not None and incremental:
        threads.append(Reconciler(incremental, reconcile, state, stop))
    for thread in threads:
        thread.start()
    return threads
