"""Real processes and a webhook recorder on 127.0.0.1, with bounded waits and sure cleanup."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

HOST = "127.0.0.1"
T = TypeVar("T")


class LiveError(RuntimeError):
    """A live process failed to start or a wait ran out of time."""


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside, SIGTERM (a CI timeout, `kill`) raises SystemExit instead of ending Python on
    the spot, so `with` blocks and fixtures unwind and stop every child process."""

    def raise_exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def free_port() -> int:
    """A port that was free a moment ago (the caller retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2
) -> T:
    """Call `probe` until it returns something other than None; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise LiveError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET `url`; (status, body), or (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())
    except (urllib.error.URLError, OSError):
        return 0, b""


def get_json(url: str, params: dict[str, str] | None = None, timeout: float = 5.0) -> Any:
    """GET a JSON API; raise LiveError on anything but 200."""
    full_url = f"{url}?{urllib.parse.urlencode(params)}" if params else url
    status, body = http_get(full_url, timeout)
    if status != 200:
        raise LiveError(f"GET {full_url} -> {status}: {body[:300]!r}")
    return json.loads(body)


def post_json(url: str, body: object, timeout: float = 5.0) -> None:
    """POST `body` as JSON; fail on anything but 200."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.status == 200


class ManagedProcess:
    """One child process whose output goes to a log file; `stop()` is safe to call twice."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in pytest does not reach it; stop() does
            )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, url: str, timeout: float) -> None:
        """Poll `url` until it answers 200; fail early (with the log) if the process exits."""

        def probe() -> bool | None:
            if not self.running:
                raise LiveError(f"{self.name} exited while starting:\n{self.log_tail()}")
            status, _ = http_get(url, timeout=1.0)
            return True if status == 200 else None

        try:
            wait_until(probe, timeout, f"{self.name} at {url}")
        except LiveError as error:
            raise LiveError(f"{error}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def reload(self) -> None:
        """SIGHUP: Prometheus and Alertmanager re-read their configuration."""
        if self._process is None or not self.running:
            raise LiveError(f"{self.name} is not running:\n{self.log_tail()}")
        self._process.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 5.0) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def start_on_free_port(
    name: str,
    make_argv: Callable[[int], Sequence[str]],
    ready_path: str,
    log_path: Path,
    timeout: float = 30.0,
    attempts: int = 3,
) -> tuple[ManagedProcess, int]:
    """Start a server on a fresh port, retrying with another port if that one was taken."""
    last_error: LiveError | None = None
    for _ in range(attempts):
        port = free_port()
        process = ManagedProcess(name, make_argv(port), log_path)
        process.start()
        try:
            process.wait_ready(f"http://{HOST}:{port}{ready_path}", timeout)
            return process, port
        except LiveError as error:
            process.stop()
            last_error = error
            if "address already in use" not in str(error):
                break
    assert last_error is not None
    raise last_error


@dataclass(frozen=True)
class Delivery:
    """One POST the recorder received."""

    path: str
    received_at: float  # time.monotonic()
    payload: Any


@dataclass(frozen=True)
class AlertEvent:
    """One alert inside an Alertmanager webhook delivery."""

    receiver: str
    status: str  # "firing" or "resolved"
    labels: dict[str, str]
    received_at: float  # time.monotonic()


class WebhookRecorder:
    """A tiny HTTP server that records every POSTed JSON body, by path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    payload: Any = json.loads(body)
                except ValueError:
                    payload = {"unparsed": body.decode(errors="replace")}
                with recorder._lock:
                    recorder._deliveries.append(Delivery(self.path, time.monotonic(), payload))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')  # Slack's client accepts any 2xx

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def deliveries(self, path: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if path is None or d.path == path]

    def alert_events(self, path: str) -> list[AlertEvent]:
        """Alertmanager webhook payloads at `path`, flattened to one event per alert."""
        events: list[AlertEvent] = []
        for delivery in self.deliveries(path):
            payload = delivery.payload
            if not isinstance(payload, dict):
                continue
            for alert in payload.get("alerts", []):
                events.append(
                    AlertEvent(
                        receiver=str(payload.get("receiver", "")),
                        status=str(alert.get("status", "")),
                        labels={str(k): str(v) for k, v in alert.get("labels", {}).items()},
                        received_at=delivery.received_at,
                    )
                )
        return events

    def wait_for_alert(
        self,
        path: str,
        alertname: str,
        status: str,
        timeout: float,
        since: float = 0.0,
        labels: dict[str, str] | None = None,
    ) -> AlertEvent:
        """The first event for `alertname` with `status` (and `labels`) received after `since`."""
        wanted = labels or {}

        def probe() -> AlertEvent | None:
            for event in self.alert_events(path):
                if (
                    event.received_at >= since
                    and event.status == status
                    and event.labels.get("alertname") == alertname
                    and all(event.labels.get(k) == v for k, v in wanted.items())
                ):
                    return event
            return None

        try:
            return wait_until(probe, timeout, f"{status} {alertname} {wanted} at {path}")
        except LiveError as error:
            seen = sorted(
                {
                    (e.status, e.labels.get("alertname", ""), e.receiver)
                    for e in self.alert_events(path)
                }
            )
            raise LiveError(f"{error}; events seen at {path}: {seen}") from None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_alertmanager(binary: str, config: Path, workdir: Path) -> tuple[ManagedProcess, str]:
    """A single Alertmanager (no cluster) with `config`, on a free port; (process, base URL)."""
    process, port = start_on_free_port(
        "alertmanager",
        lambda port: [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
        ],
        "/-/ready",
        workdir / "alertmanager.log",
    )
    return process, f"http://{HOST}:{port}"


@contextmanager
def running_alertmanager(
    binary: str, config: Path, workdir: Path, recorder: WebhookRecorder
) -> Iterator[str]:
    """`start_alertmanager` for the block (its base URL); then it stops and `recorder` closes."""
    process: ManagedProcess | None = None
    try:
        process, base_url = start_alertmanager(binary, config, workdir)
        yield base_url
    finally:
        if process is not None:
            process.stop()
        recorder.close()
