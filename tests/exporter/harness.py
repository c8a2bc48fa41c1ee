"""Start the real exporter as a child process on 127.0.0.1 and scrape it over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
T = TypeVar("T")

# Imports everything the exporter needs, then (only when asked and running as root) drops to
# another user, so file permissions apply to it. Used for the permission-denied case.
_BOOTSTRAP = """
import os, sys
import exporter.cli, exporter.collectors, exporter.scheduler, exporter.server
uid = int(os.environ.get("EXPORTER_TEST_RUN_AS", "-1"))
if uid >= 0 and os.getuid() == 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
sys.exit(exporter.cli.main(sys.argv[1:]))
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def always_open_config(markets: Sequence[str], closed: Sequence[str] = ()) -> dict[str, object]:
    """Markets with explicit sessions: open around the clock, or never (`closed`)."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {
        "markets": [
            {
                "code": code,
                "timezone": "UTC",
                "sessions": ["00:00-24:00"],
                "weekdays": [] if code in closed else days,
            }
            for code in markets
        ]
    }


def write_config(path: Path, config: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def parse(text: str) -> Samples:
    """Every sample as {(name, sorted labels): value}, via prometheus_client's parser."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: v for (n, labels), v in samples.items() if n == name}


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.05)


@dataclass
class Exporter:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def scrape(self) -> Samples:
        status, body = self.get("/metrics")
        assert status == 200, body
        return parse(body)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 5.0) -> None:
        """The exporter logs `text` within `timeout` (it logs just after updating its metrics)."""
        wait_for(lambda: text in self.log(), timeout, f"{text!r} in the exporter log")

    def wait_until(self, check: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
        """Scrape until `check` holds; returns the samples that satisfied it."""

        def attempt() -> Samples | None:
            samples = self.scrape()
            return samples if check(samples) else None

        return wait_for(attempt, timeout, "a scrape matching the condition")

    def collector_ok(self, samples: Samples, collector: str) -> float | None:
        key = ("trading_exporter_collector_success", (("collector", collector),))
        return samples.get(key)


@contextmanager
def run_exporter(
    db: Path | str,
    tmp: Path,
    *extra: str,
    config: Path | None = None,
    refresh: float = 0.2,
    run_as: int | None = None,
    check_alive: bool = True,
) -> Iterator[Exporter]:
    """Start `python -m exporter serve` on an ephemeral port; always stopped afterwards."""
    log_path = tmp / f"exporter-{time.monotonic_ns()}.log"
    args = ["serve", "--db", str(db), "--listen", "127.0.0.1:0"]
    args += ["--refresh-interval", str(refresh), "--log-level", "debug", *extra]
    if config is not None:
        args += ["--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "EXPORTER_TEST_RUN_AS": str(run_as or -1)}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env=env,
        )
    try:

        def port() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"exporter exited: {log_path.read_text()}")
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log_path.read_text())
            return int(match.group(1)) if match else None

        exporter = Exporter(process, wait_for(port, 15, "the listening log line"), log_path)
        yield exporter
        if check_alive:
            assert process.poll() is None, f"exporter died: {exporter.log()}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
