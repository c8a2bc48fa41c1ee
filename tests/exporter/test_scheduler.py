"""The scheduler in-process: stuck runs are reported, runs never overlap, crashes are contained."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exporter.collectors import RunResult
from exporter.config import CollectorSettings
from exporter.scheduler import ExporterState, start_collectors
from tests.exporter.harness import always_open_config, parse, run_exporter, write_config


class _Blocking:
    """A collector whose run blocks until released, counting concurrent runs."""

    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.max_running = 0
        self.runs = 0
        self._lock = threading.Lock()

    def run(self, deadline: float) -> RunResult:
        with self._lock:
            self.running += 1
            self.runs += 1
            self.max_running = max(self.max_running, self.running)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return RunResult()


class _StuckProbe(_Blocking):
    """A database probe that answers once, then hangs."""

    name = "database"

    def run(self, deadline: float) -> RunResult:
        if self.runs == 0:
            self.runs += 1
            return RunResult(database_up=True)
        super().run(deadline)
        return RunResult(database_up=True)


class _Crashing:
    name = "crashing"

    def run(self, deadline: float) -> RunResult:
        raise RuntimeError("bug")


@contextmanager
def _scheduled(
    collector: _Blocking | _Crashing, timeout: float
) -> Iterator[tuple[ExporterState, list[threading.Thread]]]:
    """`collector` started every 50 ms with `timeout`; stopped (and released) on exit."""
    settings = {collector.name: CollectorSettings(interval=0.05, timeout=timeout)}
    state = ExporterState(settings)
    stop = threading.Event()
    threads = start_collectors([collector], settings, state, stop)
    try:
        yield state, threads
    finally:
        stop.set()
        if isinstance(collector, _Blocking):
            collector.release.set()


def _success(state: ExporterState, name: str) -> float | None:
    samples = parse(state.render().decode())
    return samples.get(("trading_exporter_collector_success", (("collector", name),)))


def test_a_run_stuck_past_its_timeout_is_reported_failed_and_never_overlaps() -> None:
    blocking = _Blocking()
    with _scheduled(blocking, timeout=0.3) as (state, _):
        time.sleep(0.1)
        assert _success(state, "blocking") is None  # not finished, not yet overdue
        time.sleep(0.4)
        assert _success(state, "blocking") == 0  # stuck past its 0.3 s deadline
        blocking.release.set()
        deadline = time.monotonic() + 5
        while _success(state, "blocking") != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _success(state, "blocking") == 1
        time.sleep(0.3)
        assert blocking.runs > 2 and blocking.max_running == 1


def test_a_stuck_database_probe_means_database_down() -> None:
    with _scheduled(_StuckProbe(), timeout=0.3) as (state, _):
        time.sleep(0.15)
        assert state.database_up  # answered once, second run hangs but is not overdue yet
        time.sleep(0.4)
        assert not state.database_up
        up = parse(state.render().decode())[("trading_exporter_database_up", ())]
        assert up == 0


def test_a_crashing_collector_is_reported_and_keeps_its_thread() -> None:
    with _scheduled(_Crashing(), timeout=1) as (state, threads):
        time.sleep(0.3)
        assert _success(state, "crashing") == 0
        assert threads[0].is_alive()


def test_sigterm_stops_the_exporter_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", always_open_config(["kr"]))
    with run_exporter(tmp_path / "none.db", tmp_path, config=config, check_alive=False) as exporter:
        assert exporter.get("/healthz")[0] == 200
        exporter.process.send_signal(signal.SIGTERM)
        assert exporter.process.wait(timeout=10) == 0
        assert "shutting down" in exporter.log()
