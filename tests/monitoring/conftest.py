"""Settings and rendered files for the monitoring tests (real promtool / amtool on them)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from monitoring.render import render_rule_files
from monitoring.settings import ContentSettings, Market, Receivers, Targets
from monitoring.thresholds import AlertThresholds
from tests.monitoring.service_config import BLACKBOX_ADDRESS, SERVICES, THRESHOLDS

RULE_TESTS_DIR = Path(__file__).parent / "rules"
# The promtool test files expect these URLs in the annotations.
GRAFANA_URL = "https://grafana.example.test"
RUNBOOK_BASE_URL = "https://runbooks.example.test/runbooks.md"

MARKETS = (
    Market("kr", "Korea (KRX)", "XKRX", "Asia/Seoul", adapter_target="adapter-kr:8001"),
    Market("us", "United States (NYSE)", "XNYS", "America/New_York"),
    Market("cn", "China (SSE)", "XSHG", "Asia/Shanghai"),
    Market("hk", "Hong Kong (HKEX)", "XHKG", "Asia/Hong_Kong"),
    Market("jp", "Japan (TSE)", "XTKS", "Asia/Tokyo", adapter_target="adapter-jp:8005"),
    Market("vn", "Vietnam (HOSE)", None, "Asia/Ho_Chi_Minh", ("09:00-11:30", "13:00-14:45")),
)
TARGETS = Targets(
    prometheus=("prometheus-0:9090", "prometheus-1:9090"),
    alertmanagers=("alertmanager-0:9093", "alertmanager-1:9093"),
    exporter=("exporter:9108",),
    node_exporter=("node-exporter:9100",),
    cadvisor=("cadvisor:8080",),
    grafana=("grafana:3000",),
    loki=("loki:3100",),
    alloy=("alloy:12345",),
)
ALL_RECEIVERS = Receivers(
    slack_channel="#trading-alerts",
    slack_critical_channel="#trading-oncall",
    email_to="oncall@example.test",
    email_auth_username="alertmanager",
    pagerduty=True,
    webhook=True,
    heartbeat=True,
)
WEBHOOK_URL = "https://hooks.example.test/alerts"
LOOPBACK_TARGET = "127.0.0.1:9"
HEARTBEAT_URL = "https://heartbeat.example.test/ping/abc"


def make_settings(**changes: object) -> ContentSettings:
    base = ContentSettings(
        markets=MARKETS,
        targets=TARGETS,
        receivers=ALL_RECEIVERS,
        grafana_url=GRAFANA_URL,
        runbook_base_url=RUNBOOK_BASE_URL,
        replica_label="replica",
        external_labels=(("cluster", "test"),),
        # promtool evaluates every group at each test step (1m), whatever its interval: with
        # the same SLO period interval, the recorded per-interval increases tile time as in
        # production.
        thresholds=AlertThresholds(slo_period_interval="1m"),
        # Kubernetes renders every rule (its own-pods-and-volumes group is Kubernetes-only).
        discovery="kubernetes",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def with_services(settings: ContentSettings) -> ContentSettings:
    """`settings` with the test services (tests/monitoring/service_config.py) and a blackbox
    exporter: every rule file, ours and the generated `services.yml`."""
    targets = dataclasses.replace(settings.targets, blackbox=(BLACKBOX_ADDRESS,))
    return dataclasses.replace(
        settings, services=SERVICES, service_thresholds=THRESHOLDS, targets=targets
    )


@pytest.fixture(scope="session")
def settings() -> ContentSettings:
    return make_settings()


@pytest.fixture(scope="session")
def minimal_settings() -> ContentSettings:
    """One market, no notification channel at all."""
    return ContentSettings(
        markets=(MARKETS[0],),
        targets=Targets(*((LOOPBACK_TARGET,),) * 8),
    )


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make tools` (Debian prometheus packages)")
    return path


def run(
    args: list[str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


@pytest.fixture(scope="session")
def rules_dir(tmp_path_factory: pytest.TempPathFactory, settings: ContentSettings) -> Path:
    """Rendered rule files in `<tmp>/rules/`, with the promtool test files next to `rules/`."""
    root = tmp_path_factory.mktemp("rendered")
    (root / "rules").mkdir()
    for name, text in render_rule_files(with_services(settings)).items():
        (root / "rules" / name).write_text(text)
    for test_file in sorted(RULE_TESTS_DIR.glob("*.yml")):
        shutil.copy(test_file, root / test_file.name)
    return root


# The example of issue 11 ("Notifications that fit any team"), as a user writes it.
EXAMPLE_CONFIG = """
notifications:
  receivers:
    - {name: oncall, pagerduty: {routingKeySecret: pagerdutyOncall}}
    - {name: trading-slack, slack: {urlSecret: slackTrading, channel: "#trading-alerts"}}
    - {name: data-discord, discord: {urlSecret: discordData}}
    - {name: ops-telegram, telegram: {tokenSecret: telegramBot, chatId: -1001234567890}}
    - {name: ops-genie, opsgenie: {apiKeySecret: opsgenieKey}}
    - {name: teams, msteams: {urlSecret: teamsWebhook}}
    - {name: leads, email: {to: [leads@example.com]}}
  routes:
    - {match: {severity: critical}, receiver: oncall, continue: true, repeatInterval: 1h}
    - {match: {category: data_quality}, receiver: data-discord}
    - {match: {category: trading}, receiver: trading-slack, groupWait: 0s}
  default: {receiver: leads, groupWait: 30s, groupInterval: 5m, repeatInterval: 6h}
alerts:
  disabled: [RapidDatabaseGrowth]
  overrides:
    ExporterDown: {for: 2m, severity: critical}
    HighMemoryUsage: {for: 10m}
"""
# Values of the example's secrets (inline only where Alertmanager 0.25 has no *_file field).
EXAMPLE_SECRETS = {
    "pagerdutyOncall": "0123456789abcdef0123456789abcdef",
    "slackTrading": "https://hooks.slack.example.test/services/T/B/x",
    "discordData": "https://discord.example.test/api/webhooks/1/x",
    "telegramBot": "123456:ABC-token",
    "opsgenieKey": "opsgenie-key",
    "teamsWebhook": "https://teams.example.test/webhook/x",
    "webhookUrl": WEBHOOK_URL,
    "heartbeatUrl": HEARTBEAT_URL,
}
