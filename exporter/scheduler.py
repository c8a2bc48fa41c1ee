"""Runs each collector off the scrape path and keeps its latest output ready to serve.

One thread per collector: a run never overlaps the previous run of the same collector, each
run has its own deadline, and its families are serialised once, when the run ends. A scrape
only concatenates the ready bytes and renders a handful of health gauges.
"""

from __future__ import annotations

import logging
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
from exporter.collectors import Collector, RunResult
from exporter.config import CollectorSettings
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
        self._running_since: dict[str, float] = {}
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

    def _overdue(self, name: str) -> bool:
        started = self._running_since.get(name)
        settings = self._settings.get(name)
        if started is None or settings is None:
            return False
        return time.monotonic() - started > settings.timeout

    def run_started(self, name: str) -> None:
        with self._lock:
            self._running_since[name] = time.monotonic()

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
        database_up = self.database_up
        parts: list[bytes] = []
        durations, successes, last_successes = [], [], []
        for name in self._settings:
            current = status.get(name)
            overdue = name in running and now - running[name] > self._settings[name].timeout
            if overdue:
                # Stuck past its deadline (e.g. an uninterruptible call): report a failure.
                durations.append(((name,), now - running[name]))
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
        self._state.run_started(name)
        try:
            result = self._collector.run(started + self._settings.timeout)
        except Exception as exc:  # a collector bug must not kill the thread
            log.exception("collector %s crashed", name)
            result = RunResult(errors=[f"internal error: {exc!r}"])
        duration = time.monotonic() - started
        if duration > self._settings.timeout and result.success:
            result.errors.append(f"run took {duration:.3f}s, over its {self._settings.timeout}s")
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
) -> list[CollectorThread]:
    threads = [CollectorThread(c, settings[c.name], state, stop) for c in collectors]
    for thread in threads:
        thread.start()
    return threads
