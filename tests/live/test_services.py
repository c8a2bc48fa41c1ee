"""A user service end to end: the demo service (prometheus_client) scraped and probed through the
real blackbox exporter, the rendered rules on a real Prometheus, the rendered routing on a real
Alertmanager, a webhook receiver.

Faults are injected for real: the service answers 5xx (availability burn alert, then resolved),
its /health says unhealthy (probe alert, then resolved), it stops (TargetDown fires; the probe
alert fires in Prometheus but Alertmanager inhibits it). Burn-rate windows are shortened to
seconds (same factors and structure) so the whole module runs in about a minute.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import prometheus as prometheus_component
from dashboards import all_selected_values, expand_variables, panel_queries
from dashboards.boards.service import service_dashboards
from demo_service import config as demo_config
from exporter import demo_db
from monitoring.render import (
    render_alertmanager_config,
    render_blackbox_config,
    render_prometheus_config,
    render_rule_files,
)
from monitoring.services import Service, parse_services
from monitoring.settings import ContentSettings, Receivers, Targets
from monitoring.thresholds import BurnRateWindow, ServiceThresholds
from tests.live.conftest import TEST_TIMINGS
from tests.live.harness import OPEN_MARKET, content_settings
from tests.live.processes import (
    HOST,
    ManagedProcess,
    WebhookRecorder,
    get_json,
    post_json,
    start_on_free_port,
    wait_until,
)
from tests.monitoring.conftest import tool

pytestmark = pytest.mark.live

WEBHOOK = "/webhook"
DELIVERY_TIMEOUT = 40.0
# The SRE-workbook structure and factors, in seconds instead of hours.
SHORT_WINDOWS = (
    BurnRateWindow("5s", "20s", 14.4, "critical"),
    BurnRateWindow("10s", "30s", 6.0, "critical"),
    BurnRateWindow("15s", "40s", 3.0, "warning"),
    BurnRateWindow("20s", "60s", 1.0, "warning"),
)
THRESHOLDS = ServiceThresholds(
    probe_failing_for="4s",  # longer than TargetDown's 2 s, as 3m vs 2m in production
    probe_slow_for="2s",
    tls_expiry_for="2s",
    probe_timeout="1s",
    burn_rate_windows=SHORT_WINDOWS,
)


class ServiceStack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.recorder = WebhookRecorder()
        self.processes: list[ManagedProcess] = []
        self.db = workdir / "trading.db"
        demo_db.create(str(self.db), 2_000, (OPEN_MARKET,))
        self.demo: ManagedProcess | None = None
        self.demo_port = 0
        self.prometheus_url = ""
        self.alertmanager_url = ""
        self.settings: ContentSettings | None = None
        self.services: tuple[Service, ...] = ()

    def _demo_argv(self, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "demo_service",
            f"--host={HOST}",
            f"--port={port}",
            f"--db={self.db}",
            f"--markets={OPEN_MARKET}",
            "--traffic=20",
            "--write-every=1",
            "--allow-faults",
        ]

    def start(self) -> None:
        self.demo, self.demo_port = start_on_free_port(
            "demo-service", self._demo_argv, "/health", self.workdir / "demo.log"
        )
        base = f"http://{HOST}:{self.demo_port}"
        raw = demo_config.service_entry(f"{HOST}:{self.demo_port}", f"{base}/health", OPEN_MARKET)
        blackbox_yml = self.workdir / "blackbox.yml"
        rules_dir = self.workdir / "rules"
        rules_dir.mkdir()
        settings = content_settings(
            TEST_TIMINGS,
            exporter="unused:1",
            prometheus="unused:1",
            alertmanager="unused:1",
            rules_dir=rules_dir,
            secrets_dir=self.workdir / "secrets",
        )
        self.services = parse_services([raw], [m.code for m in settings.markets])
        settings = dataclasses.replace(
            settings, services=self.services, service_thresholds=THRESHOLDS
        )
        rendered = render_blackbox_config(settings)
        assert rendered is not None
        blackbox_yml.write_text(rendered)
        blackbox, blackbox_port = start_on_free_port(
            "blackbox",
            lambda port: [
                tool("prometheus-blackbox-exporter"),
                f"--config.file={blackbox_yml}",
                f"--web.listen-address={HOST}:{port}",
            ],
            "/metrics",
            self.workdir / "blackbox.log",
        )
        self.processes.append(blackbox)
        am_config = self.workdir / "alertmanager.yml"
        am_config.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
        alertmanager, am_port = start_on_free_port(
            "alertmanager",
            lambda port: [
                tool("prometheus-alertmanager"),
                f"--config.file={am_config}",
                f"--storage.path={self.workdir / 'am-data'}",
                f"--web.listen-address={HOST}:{port}",
                "--cluster.listen-address=",
            ],
            "/-/ready",
            self.workdir / "alertmanager.log",
        )
        self.processes.append(alertmanager)
        self.alertmanager_url = f"http://{HOST}:{am_port}"
        prom_config = self.workdir / "prometheus.yml"
        prom_config.write_text("global: {scrape_interval: 1s}\n")
        prometheus, prom_port = start_on_free_port(
            "prometheus",
            lambda port: [
                tool("prometheus"),
                *prometheus_component.args(
                    settings,
                    config_file=str(prom_config),
                    storage_path=str(self.workdir / "prometheus-data"),
                ),
                f"--web.listen-address={HOST}:{port}",
                f"--rules.alert.resend-delay={TEST_TIMINGS.resend_delay}",
            ],
            "/-/ready",
            self.workdir / "prometheus.log",
        )
        self.processes.append(prometheus)
        self.prometheus_url = f"http://{HOST}:{prom_port}"
        # Now the real configuration, with every port known.
        self.settings = dataclasses.replace(
            settings,
            targets=Targets(
                (f"{HOST}:{prom_port}",),
                (f"{HOST}:{am_port}",),
                *((),) * 6,
                blackbox=(f"{HOST}:{blackbox_port}",),
            ),
            receivers=Receivers(webhook=True, secrets_dir=str(self.workdir / "secrets")),
        )
        prom_config.write_text(render_prometheus_config(self.settings))
        am_config.write_text(
            render_alertmanager_config(self.settings, self.recorder.url(WEBHOOK), None)
        )
        alertmanager.reload()
        prometheus.reload()
        wait_until(
            lambda: True if self.query('up{service="demo-api"} == 1') else None,
            30,
            "Prometheus' first scrape of the demo service",
        )
        wait_until(
            lambda: True if self.query('probe_success{service="demo-api"} == 1') else None,
            30,
            "the first successful probe",
        )
        # Rules only now (no `absent`-style false alerts while targets are being discovered):
        # TargetDown from our system rules, and everything generated from `services`.
        rule_files = render_rule_files(self.settings)
        for name in ("system.yml", "services.yml"):
            (rules_dir / name).write_text(rule_files[name])
        prometheus.reload()
        wait_until(
            lambda: (
                True if get_json(f"{self.prometheus_url}/api/v1/rules")["data"]["groups"] else None
            ),
            30,
            "Prometheus to load the rules",
        )
        wait_until(
            lambda: (
                True
                if get_json(f"{self.prometheus_url}/api/v1/alertmanagers")["data"][
                    "activeAlertmanagers"
                ]
                else None
            ),
            30,
            "Prometheus to discover Alertmanager",
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = get_json(f"{self.prometheus_url}/api/v1/query", {"query": expr})["data"]
        return list(data["result"])

    def fault(self, **values: object) -> None:
        post_json(f"http://{HOST}:{self.demo_port}/admin/fault", values)

    def stop_demo(self) -> None:
        assert self.demo is not None
        self.demo.stop()

    def close(self) -> None:
        for process in [*self.processes, *([self.demo] if self.demo else [])]:
            process.stop()
        self.recorder.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    for name in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        if shutil.which(name) is None:
            pytest.fail(f"the live test needs {name} on PATH: run `make tools`")
    stack = ServiceStack(tmp_path_factory.mktemp("services"))
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def test_scraped_market_label_becomes_exported_market(stack: ServiceStack) -> None:
    series = wait_until(
        lambda: stack.query('demo_quotes_total{job="service-demo-api"}') or None,
        20,
        "demo_quotes_total",
    )
    for s in series:
        labels = s["metric"]
        assert labels["market"] == OPEN_MARKET  # the target label wins
        assert labels["exported_market"] in ("ETH-USD", "BTC-USD")  # the service's own
        assert labels["service"] == "demo-api" and labels["team"] == "platform"


def test_5xx_burns_the_availability_budget_and_resolves(stack: ServiceStack) -> None:
    since = time.monotonic()
    stack.fault(error_ratio=1.0)
    try:
        event = stack.recorder.wait_for_alert(
            WEBHOOK,
            "ServiceAvailabilityBudgetBurn",
            "firing",
            DELIVERY_TIMEOUT,
            since,
            {"severity": "critical", "service": "demo-api"},
        )
    finally:
        stack.fault(error_ratio=0.0)
    assert event.labels["slo"] == "demo-api-availability"
    assert event.labels["team"] == "platform" and event.labels["market"] == OPEN_MARKET
    stack.recorder.wait_for_alert(
        WEBHOOK,
        "ServiceAvailabilityBudgetBurn",
        "resolved",
        DELIVERY_TIMEOUT * 2,
        event.received_at,
        {"severity": "critical", "service": "demo-api"},
    )


def test_unhealthy_health_fails_the_probe_and_resolves(stack: ServiceStack) -> None:
    since = time.monotonic()
    stack.fault(healthy=False)
    try:
        event = stack.recorder.wait_for_alert(
            WEBHOOK, "ServiceProbeFailing", "firing", DELIVERY_TIMEOUT, since
        )
    finally:
        stack.fault(healthy=True)
    assert event.labels["service"] == "demo-api" and event.labels["probe"] == "health"
    stack.recorder.wait_for_alert(
        WEBHOOK, "ServiceProbeFailing", "resolved", DELIVERY_TIMEOUT, event.received_at
    )


def test_every_panel_of_the_service_dashboard_has_data(stack: ServiceStack) -> None:
    assert stack.settings is not None
    (board,) = service_dashboards(stack.settings, stack.services, THRESHOLDS)
    values = all_selected_values(board.model)
    empty = []
    for query in panel_queries(board.model):
        expr = expand_variables(query.expr, values)

        def has_data(expr: str = expr) -> bool | None:
            for s in stack.query(expr):
                if not math.isnan(float(s["value"][1])):
                    return True
            return None

        try:
            wait_until(has_data, 20, expr)
        except Exception:
            empty.append(f"{query.panel_title}: {expr}")
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_a_stopped_service_fires_target_down_and_mutes_its_probe(stack: ServiceStack) -> None:
    since = time.monotonic()
    stack.stop_demo()
    stack.recorder.wait_for_alert(
        WEBHOOK, "TargetDown", "firing", DELIVERY_TIMEOUT, since, {"service": "demo-api"}
    )

    def probe_suppressed() -> dict[str, Any] | None:
        for alert in get_json(f"{stack.alertmanager_url}/api/v2/alerts"):
            status = alert["status"]
            if (
                alert["labels"]["alertname"] == "ServiceProbeFailing"
                and status["state"] == "suppressed"
                and status["inhibitedBy"]
            ):
                return dict(alert)
        return None

    wait_until(probe_suppressed, DELIVERY_TIMEOUT, "ServiceProbeFailing inhibited by TargetDown")
    firing = {
        a["labels"]["alertname"]
        for a in get_json(f"{stack.prometheus_url}/api/v1/alerts")["data"]["alerts"]
        if a["state"] == "firing"
    }
    assert "ServiceProbeFailing" in firing  # Prometheus fires it; Alertmanager mutes it
    time.sleep(3)  # a few group intervals: nothing of the probe reaches the receiver
    late = [
        e
        for e in stack.recorder.alert_events(WEBHOOK)
        if e.received_at >= since
        and e.status == "firing"
        and e.labels["alertname"]
        in ("ServiceProbeFailing", "ServiceAvailabilityBudgetBurn", "ServiceLatencyBudgetBurn")
    ]
    assert not late, late
