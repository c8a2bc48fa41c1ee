"""The demo service: metrics in milliseconds, /health, faults only when allowed, fresh rows."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo_service.app import DemoDatabase, DemoService
from demo_service.config import service_entry
from exporter import demo_db
from monitoring.services import parse_services


def _serve(service: DemoService) -> Iterator[str]:
    server = service.serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "trading.db"
    demo_db.create(str(path), 500, ("kr", "us"))
    return path


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post(url: str, data: dict[str, object]) -> int:
    request = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_requests_errors_and_millisecond_latency(db: Path) -> None:
    service = DemoService(["kr"], DemoDatabase(db, ["kr"]), allow_faults=True)
    for base in _serve(service):
        assert _get(f"{base}/api/quote?market=kr")[0] == 200
        assert _post(f"{base}/admin/fault", {"error_ratio": 1.0, "healthy": False}) == 200
        assert _get(f"{base}/api/quote?market=kr")[0] == 500
        assert _get(f"{base}/health") == (503, b'{"status": "unhealthy"}')
        _, body = _get(f"{base}/metrics")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    requests = {s.labels["status"]: s.value for s in families["demo_requests"].samples}
    assert requests["200"] == 1 and requests["500"] == 1
    errors = [s for s in families["demo_errors"].samples if s.name == "demo_errors_total"]
    assert errors[0].value == 1
    buckets = [
        s.labels["le"]
        for s in families["demo_request_duration_milliseconds"].samples
        if s.name.endswith("_bucket")
    ]
    assert "250.0" in buckets  # milliseconds, as the entry's threshold 250ms expects
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT status_code FROM api_calls WHERE endpoint = 'quotes' ORDER BY id DESC LIMIT 2"
        ).fetchall()
    assert sorted(rows) == [(200,), (500,)]


def test_faults_are_refused_unless_allowed() -> None:
    service = DemoService(["kr"])
    for base in _serve(service):
        assert _post(f"{base}/admin/fault", {"healthy": False}) == 404
        assert _get(f"{base}/health") == (200, b'{"status": "healthy"}')


def test_fresh_rows_for_every_market(db: Path) -> None:
    DemoDatabase(db, ["kr", "us"]).write_fresh_rows()
    now = time.time()
    with sqlite3.connect(db) as conn:
        for market in ("kr", "us"):
            (newest,) = conn.execute(
                "SELECT MAX(ts) FROM ohlcv WHERE market = ?", (market,)
            ).fetchone()
            assert now - newest < 5
            (runs,) = conn.execute(
                "SELECT COUNT(*) FROM collection_runs WHERE market = ? AND source = 'demo-service'",
                (market,),
            ).fetchone()
            assert runs == 1


def test_the_demo_entry_is_a_valid_service() -> None:
    (service,) = parse_services(
        [service_entry("host.docker.internal:8010", "http://host.docker.internal:8010/health")],
        ["kr"],
    )
    assert service.slo is not None and service.slo.latency is not None
    assert service.slo.latency.bucket == 250
